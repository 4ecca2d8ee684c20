import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compileSchemas, SchemaError } from '@cap/campaign-schema';
import { parseXml } from '@cap/campaign-xml';
import { checkWriteAccess, planWrite, schemasWritten, WriteError, type WriteMode } from '../src/index';

const BUILTIN = join(__dirname, '..', '..', 'schema', 'builtin');
const builtin = readdirSync(BUILTIN).map((file) => ({ file, text: readFileSync(join(BUILTIN, file), 'utf8') }));
const ticket = {
  file: 'cus-ticket.xml',
  text: `<srcSchema namespace="cus" name="ticket" implements="xtk:persist" placement="local">
  <element name="ticket" autopk="true">
    <key name="title"><keyfield xpath="@title"/></key>
    <attribute name="title" type="string" length="64"/>
    <element name="owner" type="link" target="xtk:operator"/>
  </element>
</srcSchema>`,
};
const schemas = compileSchemas([...builtin, ticket]);
const plan = (xml: string, mode: WriteMode = 'write') => planWrite(parseXml(xml), schemas, { mode, now: new Date(), newId: () => 'uuid-1' });
const written = (xml: string, mode: WriteMode = 'write') =>
  schemasWritten(plan(xml, mode))
    .map((s) => s.id)
    .sort();
const denied = (xml: string, rights: string[], mode: WriteMode = 'write') => {
  try {
    checkWriteAccess(schemasWritten(plan(xml, mode)), { login: 'mc', rights });
  } catch (err) {
    expect(err).toBeInstanceOf(WriteError);
    return (err as WriteError).message;
  }
  return undefined;
};

describe('write access by the schema of every written record', () => {
  it('when the built-in schemas load, then operators and options need admin and workflows the workflow right', () => {
    expect(schemas.get('xtk:operator')!.writeRights).toEqual(['admin']);
    expect(schemas.get('xtk:option')!.writeRights).toEqual(['admin']);
    expect(schemas.get('xtk:workflow')!.writeRights).toEqual(['workflow']);
    expect(schemas.get('nms:recipient')!.writeRights).toEqual([]);
  });

  it('when a collection holds records of several schemas, then every one of them is written, whatever the container says', () => {
    const xml =
      '<recipient-collection xtkschema="nms:recipient"><recipient email="a@x.com"/><operator xtkschema="xtk:operator" _key="@name" name="mc" rights="admin"/></recipient-collection>';
    expect(written(xml, 'writeCollection')).toEqual(['nms:recipient', 'xtk:operator']);
    expect(denied(xml, ['messageCenter'], 'writeCollection')).toMatch(
      /^XSV-350013 Access denied: operator 'mc' may not write xtk:operator \(it needs the 'admin' right\)/,
    );
  });

  it('when a linked sub-element creates or updates a record, then its schema is written too; a link with _operation="none" only reads', () => {
    expect(written('<ticket xtkschema="cus:ticket" title="t"><owner _key="@name" name="mc" rights="admin"/></ticket>')).toEqual(['cus:ticket', 'xtk:operator']);
    expect(denied('<ticket xtkschema="cus:ticket" title="t"><owner _key="@name" name="mc" rights="admin"/></ticket>', ['messageCenter'])).toMatch(
      /^XSV-350013/,
    );
    expect(written('<ticket xtkschema="cus:ticket" title="t"><owner _key="@name" name="admin" _operation="none"/></ticket>')).toEqual(['cus:ticket']);
  });

  it('when the caller is admin or holds the named right, then the write is allowed', () => {
    expect(denied('<operator xtkschema="xtk:operator" name="x"/>', ['admin'])).toBeUndefined();
    expect(denied('<workflow xtkschema="xtk:workflow" internalName="w"/>', ['workflow'])).toBeUndefined();
    expect(denied('<workflow xtkschema="xtk:workflow" internalName="w"/>', ['messageCenter'])).toMatch(/needs the 'workflow' right/);
  });

  it('when a caller has no operator (a system task), then a protected schema is refused', () => {
    expect(() => checkWriteAccess(schemasWritten(plan('<option xtkschema="xtk:option" name="x"/>')), { rights: [] })).toThrow(
      /this caller may not write xtk:option/,
    );
  });

  it('when a schema extension adds a writeAccess right, then both rights are needed; when a filter has an unsupported form, then the schema is refused', () => {
    const ext = {
      file: 'ext.xml',
      text: `<srcSchema namespace="ext" name="ticket" extendedSchema="cus:ticket"><element name="ticket"><sysFilter name="writeAccess"><condition enabledIf="hasNamedRight('support')=false" expr="FALSE"/></sysFilter></element></srcSchema>`,
    };
    expect(compileSchemas([...builtin, ticket, ext]).get('cus:ticket')!.writeRights).toEqual(['support']);
    const bad = (filter: string) => ({
      file: 'bad.xml',
      text: `<srcSchema namespace="cus" name="bad"><element name="bad" autopk="true">${filter}<attribute name="a" type="string"/></element></srcSchema>`,
    });
    for (const filter of [
      `<sysFilter name="readAccess"><condition enabledIf="hasNamedRight('admin')=false" expr="FALSE"/></sysFilter>`,
      `<sysFilter name="writeAccess"><condition enabledIf="$(loginId)!=0" expr="FALSE"/></sysFilter>`,
      `<sysFilter name="writeAccess"><condition enabledIf="hasNamedRight('admin')=false" expr="@a = 'x'"/></sysFilter>`,
    ]) {
      expect(() => compileSchemas([...builtin, bad(filter)])).toThrow(SchemaError);
    }
  });
});
