import { SoapFault } from '@cap/campaign-soap';
import { parseXml, serializeXml } from '@cap/campaign-xml';
import { asQueueEvent } from './event.soap-methods';

describe('asQueueEvent', () => {
  it('when a PushEvent document has another root name (the SDK sends <domEvent> for a plain object), then it becomes the queue element', () => {
    const event = asQueueEvent(
      parseXml('<domEvent type="welcome" email="a@example.com"><ctx><firstName>Ann</firstName></ctx></domEvent>'),
      'batchEvent',
      'PushEvent',
    );
    expect(serializeXml(event, { plain: true })).toBe('<batchEvent type="welcome" email="a@example.com"><ctx><firstName>Ann</firstName></ctx></batchEvent>');
    const own = parseXml('<rtEvent xtkschema="nms:rtEvent" type="t" email="b@example.com"/>');
    expect(asQueueEvent(own, 'rtEvent', 'PushEvent')).toBe(own);
  });

  it('when the document names another schema in xtkschema, then it is refused whatever its root', () => {
    for (const xml of ['<operator xtkschema="xtk:operator" name="x"/>', '<batchEvent xtkschema="nms:rtEvent" type="t" email="c@example.com"/>']) {
      expect(() => asQueueEvent(parseXml(xml), 'batchEvent', 'PushEvent')).toThrow(SoapFault);
    }
  });
});
