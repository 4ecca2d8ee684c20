import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compileSchemas } from '@cap/campaign-schema';
import { parseXml } from '@cap/campaign-xml';
import {
  compileDeliveryTarget,
  DeliveryError,
  eventCtxData,
  mergeDeliveryFragment,
  personalisationFields,
  prepareDelivery,
  recipientData,
  renderDeliveryMessage,
  type DeliveryDefinition,
} from '../src/index';

const BUILTIN = join(__dirname, '..', '..', 'schema', 'builtin');
const schemas = compileSchemas(
  readdirSync(BUILTIN)
    .filter((f) => f.endsWith('.xml'))
    .map((file) => ({ file, text: readFileSync(join(BUILTIN, file), 'utf8') })),
);

const template: DeliveryDefinition = {
  label: 'Newsletter',
  messageType: 0,
  routing: '',
  subject: 'Hi <%= recipient.firstName %>',
  senderAddress: 'news@example.com',
  content: '<p>Hello <%= recipient.firstName %> from <%= recipient.location.city %></p>',
  targets: '<targets><where><condition expr="@email LIKE \'%@example.com\'"/></where></targets>',
};

function deliveryError(fn: () => unknown): DeliveryError {
  try {
    fn();
  } catch (err) {
    if (err instanceof DeliveryError) return err;
    throw err;
  }
  throw new Error('expected a DeliveryError');
}

describe('SubmitDelivery: template, fragment, target', () => {
  it('when a fragment is merged, then what it gives replaces the template and the rest is kept', () => {
    const fragment = parseXml(
      '<delivery label="June" xtkschema="nms:delivery"><mailParameters subject="June news"/><targets><where><condition expr="@lastName = \'Doe\'"/></where></targets></delivery>',
    );
    const merged = mergeDeliveryFragment(template, fragment);
    expect(merged).toEqual({
      ...template,
      label: 'June',
      subject: 'June news',
      targets: '<targets><where><condition expr="@lastName = &apos;Doe&apos;"/></where></targets>',
    });
    expect(mergeDeliveryFragment(template, undefined)).toEqual(template);
    expect(deliveryError(() => mergeDeliveryFragment(template, parseXml('<delivery shoeSize="44"/>'))).code).toBe('DLV-490002');
    expect(deliveryError(() => mergeDeliveryFragment(template, parseXml('<delivery><scheduling/></delivery>'))).message).toContain('<scheduling>');
  });

  it('when the target compiles, then it is one parameterised select on nms:recipient with every value bound', () => {
    const { sql, params } = compileDeliveryTarget(template.targets, schemas);
    expect(sql).toMatch(/^SELECT .* FROM "nms_recipient" .* WHERE .*"email" LIKE \$1 LIMIT \$2$/);
    expect(params[0]).toBe('%@example.com');
    const parts =
      '<targets><deliveryTarget><targetPart type="query"><where><condition expr="@firstName = \'A\'"/></where></targetPart><targetPart type="query"><where><condition expr="@firstName = \'B\'"/></where></targetPart></deliveryTarget></targets>';
    expect(compileDeliveryTarget(parts, schemas).sql).toContain(' OR ');
    expect(compileDeliveryTarget('', schemas).sql).not.toContain('WHERE');
  });

  it('when the target is bad, then DLV-490003 says why', () => {
    expect(deliveryError(() => compileDeliveryTarget('<targets><where><condition expr="@shoeSize = 1"/></where></targets>', schemas)).message).toMatch(
      /^DLV-490003 .*shoeSize/,
    );
    expect(deliveryError(() => compileDeliveryTarget('<targets><where>', schemas)).message).toContain('not well-formed');
    expect(
      deliveryError(() => compileDeliveryTarget('<targets fromExternalSource="true"><externalSource>a,b</externalSource></targets>', schemas)).message,
    ).toContain('external-source');
    expect(
      deliveryError(() => compileDeliveryTarget('<targets><where><condition expr="@email = \'x\'; DROP TABLE nms_recipient"/></where></targets>', schemas))
        .code,
    ).toBe('DLV-490003');
  });

  it('when a delivery is prepared and rendered, then recipient rows become template data and a bad row fails alone', () => {
    const fields = personalisationFields(schemas.get('nms:recipient')!);
    const known = { fields: { recipient: new Set(fields.map((f) => f.path)) }, freeRoots: [] };
    const prepared = prepareDelivery({ ...template, subject: "Born <%= formatDate(recipient.birthDate, '%4Y') %>" }, known);
    const row = (values: Record<string, unknown>) => Object.fromEntries(fields.map((f, i) => [`f${i}`, values[f.path] ?? null]));
    const ok = renderDeliveryMessage(prepared, {
      recipient: recipientData(fields, row({ firstName: 'A<b>', 'location.city': 'Rome', birthDate: '1999-01-01' })),
    });
    expect(ok).toEqual({ ok: true, subject: 'Born 1999', body: '<p>Hello A&lt;b&gt; from Rome</p>' });
    const bad = renderDeliveryMessage(prepared, { recipient: recipientData(fields, row({ firstName: 'B' })) });
    expect(bad).toEqual({ ok: false, reason: "Personalisation error: formatDate: 'recipient.birthDate' is empty (line 1, column 6)" });
    expect(deliveryError(() => prepareDelivery({ ...template, content: '<%= recipient.shoe %>' }, known)).message).toMatch(
      /^DLV-490004 personalisation of the content: 'recipient.shoe' is not a field/,
    );
    expect(deliveryError(() => prepareDelivery({ ...template, content: ' ' }, known)).code).toBe('DLV-490006');
  });

  it('when an event ctx is read, then attributes, elements and text become template data; malformed ctx is undefined', () => {
    expect(
      eventCtxData('<ctx><firstName>Ann</firstName><order id="7" total="3.5"><item>a</item><item>b</item></order><note lang="en">hi</note></ctx>'),
    ).toEqual({
      firstName: 'Ann',
      order: { id: '7', total: '3.5', item: 'a' },
      note: { lang: 'en', '#text': 'hi' },
    });
    expect(eventCtxData(null)).toEqual({});
    expect(eventCtxData('<ctx><open>')).toBeUndefined();
  });
});
