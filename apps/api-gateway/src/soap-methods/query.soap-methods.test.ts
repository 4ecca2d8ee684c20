import { SoapFault } from '@cap/campaign-soap';
import { parseXml, serializeXml } from '@cap/campaign-xml';
import { asQueryDef } from './query.soap-methods';

describe('asQueryDef', () => {
  it('when the queryDef root has another name (the SDK sends <root> for temp:group schemas), then it travels as <queryDef>', () => {
    const doc = parseXml('<root schema="xtk:operator" operation="get" xtkschema="xtk:queryDef"><select><node expr="@name"/></select></root>');
    expect(serializeXml(asQueryDef(doc, 'ExecuteQuery'), { plain: true })).toBe(
      '<queryDef schema="xtk:operator" operation="get" xtkschema="xtk:queryDef"><select><node expr="@name"/></select></queryDef>',
    );
    const own = parseXml('<queryDef schema="nms:recipient" operation="count"/>');
    expect(asQueryDef(own, 'ExecuteQuery')).toBe(own);
  });

  it('when another root names another schema, or has no schema to query, then it is refused', () => {
    for (const xml of ['<recipient xtkschema="nms:recipient" schema="nms:recipient"/>', '<root operation="select"/>']) {
      expect(() => asQueryDef(parseXml(xml), 'ExecuteQuery')).toThrow(SoapFault);
    }
  });
});
