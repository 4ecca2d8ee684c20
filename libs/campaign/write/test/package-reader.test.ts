import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compileSchemas } from '@cap/campaign-schema';
import { parseXml, serializeXml } from '@cap/campaign-xml';
import { planWrite, readPackage, WriteError } from '../src/index';

const BUILTIN = join(__dirname, '..', '..', 'schema', 'builtin');
const schemas = compileSchemas(readdirSync(BUILTIN).map((file) => ({ file, text: readFileSync(join(BUILTIN, file), 'utf8') })));

const read = (xml: string, maxEntities = 100) => readPackage(parseXml(xml), schemas, { maxEntities });
function refusal(fn: () => unknown): WriteError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(WriteError);
    return err as WriteError;
  }
  throw new Error('expected a WriteError');
}

const OPTION_PACKAGE = `<pkgDesc><package namespace="cus" name="sdk" buildNumber="*" buildVersion="*" label="Test" vendor="me">
  <entities schema="xtk:option"><option name="PkgA" dataType="6" stringValue="a"/><option name="PkgB" dataType="6" stringValue="b"/></entities>
  <entities schema="nms:service"><service name="pkgNews" label="News"><folder _operation="none" name="nmsSetOfServices"/></service></entities>
</package></pkgDesc>`;

describe('Package reading', () => {
  it('when a <pkgDesc> package lists entities of two schemas, then every record is read under its schema, in order', () => {
    const pkg = read(OPTION_PACKAGE);
    expect(pkg).toMatchObject({ namespace: 'cus', name: 'sdk', label: 'Test' });
    expect(pkg.entities.map((e) => [e.schema.id, e.record.attrs['name']])).toEqual([
      ['xtk:option', 'PkgA'],
      ['xtk:option', 'PkgB'],
      ['nms:service', 'pkgNews'],
    ]);
    expect(pkg.sourceSchemas).toEqual([]);
  });

  it('when the package arrives as the SDK sends a JSON one (root named after the parameter), or as <builder>, then it is read the same', () => {
    for (const root of ['package', 'builder', 'parameters']) {
      const pkg = read(`<${root}><package buildNumber="*"><entities schema="nms:service"><service name="s1" label="S"/></entities></package></${root}>`);
      expect(pkg.entities.map((e) => e.record.attrs['name'])).toEqual(['s1']);
    }
    // A bare <package> root too.
    expect(read(`<package><entities schema="xtk:option"><option name="X"/></entities></package>`).entities).toHaveLength(1);
  });

  it('when the records are written as one collection, then each carries its own xtkschema and plans as a Write would', () => {
    const pkg = read(OPTION_PACKAGE);
    const doc = parseXml(serializeXml(pkg.collection(pkg.entities), { plain: true }));
    const plans = planWrite(doc, schemas, { mode: 'writeCollection', now: new Date(), newId: () => 'u' });
    expect(plans.map((p) => [p.schema.id, p.operation])).toEqual([
      ['xtk:option', 'insertOrUpdate'],
      ['xtk:option', 'insertOrUpdate'],
      ['nms:service', 'insertOrUpdate'],
    ]);
  });

  it('when the document has no package, then XTK-170300 says what is missing', () => {
    expect(refusal(() => read('<pkgDesc/>')).message).toMatch(/^XTK-170300 .*<package>/);
    expect(refusal(() => read('<a><package/><package/></a>')).message).toMatch(/^XTK-170300 .*one <package>/);
  });

  it('when <entities> has no schema, or <package> holds something else, then XTK-170300 names it with its line', () => {
    expect(refusal(() => read('<package>\n<entities><option name="x"/></entities></package>')).message).toMatch(/^XTK-170300 <entities> \(line 2\) .*schema=/);
    expect(refusal(() => read('<package><options/></package>')).message).toMatch(/^XTK-170300 .*<options>/);
  });

  it('when an entity names another schema than its <entities>, then XTK-170300; a wrong element name is XTK-170101', () => {
    expect(refusal(() => read('<package><entities schema="xtk:option"><option xtkschema="xtk:operator" name="x"/></entities></package>')).code).toBe(
      'XTK-170300',
    );
    expect(refusal(() => read('<package><entities schema="xtk:option"><operator name="x"/></entities></package>')).code).toBe('XTK-170101');
  });

  it('when a schema is unknown, then XTK-170101 names it', () => {
    const err = refusal(() => read('<package><entities schema="cus:nothing"><nothing/></entities></package>'));
    expect(err.message).toMatch(/^XTK-170101 .*cus:nothing/);
  });

  it('when there are more entities than allowed, then XTK-170301 before anything else is looked at', () => {
    const many = Array.from({ length: 6 }, (_, i) => `<option name="o${i}"/>`).join('');
    expect(refusal(() => read(`<package><entities schema="xtk:option">${many}</entities></package>`, 5)).message).toMatch(/^XTK-170301 .*5/);
    expect(read(`<package><entities schema="xtk:option">${many}</entities></package>`, 6).entities).toHaveLength(6);
  });

  it('when the package holds xtk:srcSchema entities, then they are set apart from the data entities, not refused here', () => {
    const pkg = read(
      '<package><entities schema="xtk:srcSchema"><srcSchema namespace="cus" name="thing"/></entities><entities schema="xtk:option"><option name="o"/></entities></package>',
    );
    expect(pkg.sourceSchemas.map((s) => s.attrs['name'])).toEqual(['thing']);
    expect(pkg.entities).toHaveLength(1);
  });
});
