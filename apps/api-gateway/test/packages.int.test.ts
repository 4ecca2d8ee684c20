import type pg from 'pg';
import { rawCall, rawLogon } from './fixtures/raw-soap';
import { failure, sdkLogon, startTestPlatform, uniqueId, withDb, type SdkClient, type TestPlatform } from '@cap/platform-testing';

const { DomUtil } = require('@adobe/acc-js-sdk');

/** What the gateway writes in the report InstallPackage returns (docs/packages.md). */
interface Report {
  created: number;
  updated: number;
  deleted: number;
  unchanged: number;
  entities: { schema: string; key: string; outcome: string }[];
}
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const readReport = (el: any): Report => {
  const entities: Report['entities'] = [];
  for (let e = DomUtil.getFirstChildElement(el, 'entity'); e; e = DomUtil.getNextSiblingElement(e, 'entity')) {
    entities.push({ schema: e.getAttribute('schema'), key: e.getAttribute('key'), outcome: e.getAttribute('outcome') });
  }
  const n = (a: string) => Number(el.getAttribute(a));
  return { created: n('created'), updated: n('updated'), deleted: n('deleted'), unchanged: n('unchanged'), entities };
};

/** A `<pkgDesc>` package document as Campaign's package files are written, parsed by the SDK's DomUtil. */
const xmlPackage = (entities: string) =>
  DomUtil.parse(`<pkgDesc><package namespace="cus" name="itest" buildNumber="*" buildVersion="*" label="Test" vendor="tests">${entities}</package></pkgDesc>`);

// Through Adobe's own client, unmodified, making the calls of its packages sample (docs/packages.md).
describe('packages: xtk:builder#InstallPackage and xtk:specFile#GenerateDoc through the unmodified SDK', () => {
  let platform: TestPlatform;
  let admin: SdkClient;
  let mc: SdkClient;
  const localDb = <T>(fn: (c: pg.Client) => Promise<T>): Promise<T> => withDb(platform.localDb.url, fn);
  const optionsNamed = (prefix: string) =>
    localDb(
      async (c) =>
        (
          await c.query<{ name: string; value: string | null }>(`SELECT name, string_value AS value FROM xtk_option WHERE name LIKE $1 ORDER BY name`, [
            `${prefix}%`,
          ])
        ).rows,
    );
  const install = async (doc: unknown): Promise<Report> => readReport(await admin.NLWS.xml.pushDown({ timeout: 60_000 }).xtkBuilder.installPackage(doc));

  beforeAll(async () => {
    platform = await startTestPlatform();
    admin = await sdkLogon(platform.gatewayUrl, 'admin', 'admin');
    mc = await sdkLogon(platform.gatewayUrl, 'mc', 'mc');
    // No folder is written here: nmsSetOfServices and nmsVisitor, which the sample's JSON package links its service
    // to, are folders of a default install (apps/local-store/src/seed/install.seed.ts).
  });

  afterAll(async () => {
    await platform?.stop();
  });

  it('when an XML package of options is installed as the sample does, then the options are written and the report says created, then updated', async () => {
    const name = uniqueId('PkgXml');
    // The sample's own steps: DomUtil.newDocument('pkgDesc'), <package>, <entities schema="xtk:option">, <option>.
    const doc = DomUtil.newDocument('pkgDesc');
    const pkg = doc.createElement('package');
    doc.documentElement.appendChild(pkg);
    pkg.setAttribute('namespace', 'cus');
    pkg.setAttribute('name', 'sdk');
    pkg.setAttribute('buildNumber', '*');
    pkg.setAttribute('buildVersion', '*');
    const entities = doc.createElement('entities');
    pkg.appendChild(entities);
    entities.setAttribute('schema', 'xtk:option');
    const option = doc.createElement('option');
    option.setAttribute('name', name);
    option.setAttribute('dataType', '6');
    option.setAttribute('stringValue', JSON.stringify(admin.application.version));
    entities.appendChild(option);

    const first = await install(doc);
    expect(first).toMatchObject({ created: 1, updated: 0, entities: [{ schema: 'xtk:option', key: `@name=${name}`, outcome: 'created' }] });
    expect(await optionsNamed(name)).toEqual([{ name, value: JSON.stringify(admin.application.version) }]);
    // The SDK reads it back as any option.
    expect(await admin.getOption(name)).toBe(JSON.stringify(admin.application.version));

    option.setAttribute('stringValue', 'v2');
    expect(await install(doc)).toMatchObject({ created: 0, updated: 1, entities: [{ outcome: 'updated' }] });
    expect(await optionsNamed(name)).toEqual([{ name, value: 'v2' }]);
  });

  it('when the JSON package of the sample is installed, then the service is written and linked to its two folders', async () => {
    const name = uniqueId('newsletterTest');
    const jsonPackage = {
      package: {
        buildNumber: '*',
        buildVersion: '*',
        entities: {
          schema: 'nms:service',
          service: {
            label: 'NewsletterTest',
            name,
            folder: { _operation: 'none', name: 'nmsSetOfServices' },
            visitorFolder: { _operation: 'none', name: 'nmsVisitor' },
          },
        },
      },
    };
    // The sample's call: default (SimpleJson) representation, a long timeout pushed down.
    const report = await admin.NLWS.pushDown({ timeout: 5 * 60 * 1000 }).xtkBuilder.installPackage(jsonPackage);
    expect(report).toMatchObject({ created: '1', entity: { schema: 'nms:service', key: `@name=${name}`, outcome: 'created' } });
    const rows = await localDb(
      async (c) =>
        (
          await c.query(
            `SELECT s.label, f.name AS folder, v.name AS visitor FROM nms_service s JOIN xtk_folder f ON f.id = s.folder_id JOIN xtk_folder v ON v.id = s.visitor_folder_id WHERE s.name = $1`,
            [name],
          )
        ).rows,
    );
    expect(rows).toEqual([{ label: 'NewsletterTest', folder: 'nmsSetOfServices', visitor: 'nmsVisitor' }]);
  });

  it('when an entity fails in the middle of a package, then nothing of the package is written', async () => {
    const prefix = uniqueId('PkgMid');
    // The third entity links to a folder that does not exist: found only while the package is being written.
    const doc = xmlPackage(
      `<entities schema="xtk:option"><option name="${prefix}A" stringValue="a"/><option name="${prefix}B" stringValue="b"/></entities>` +
        `<entities schema="nms:service"><service name="${prefix}S" label="S"><folder _operation="none" name="${prefix}NoSuchFolder"/></service></entities>` +
        `<entities schema="xtk:option"><option name="${prefix}C" stringValue="c"/></entities>`,
    );
    expect((await failure(install(doc))).errorCode).toBe('XTK-170108');
    // A value refused by the planner, after good entities: the same.
    const bad = xmlPackage(
      `<entities schema="xtk:option"><option name="${prefix}D" stringValue="d"/><option name="${prefix}E" longValue="not a number"/></entities>`,
    );
    expect((await failure(install(bad))).errorCode).toBe('XTK-170103');
    // A database refusal (a key given twice with _operation="insert"), after good entities: the same.
    const twice = xmlPackage(
      `<entities schema="xtk:option"><option name="${prefix}F" stringValue="f"/><option _operation="insert" name="${prefix}G"/><option _operation="insert" name="${prefix}G"/></entities>`,
    );
    expect((await failure(install(twice))).errorCode).toBe('PGS-220000');
    expect(await optionsNamed(prefix)).toEqual([]);
    expect(await localDb(async (c) => (await c.query(`SELECT 1 FROM nms_service WHERE name = $1`, [`${prefix}S`])).rowCount)).toBe(0);
  });

  it('when a package is malformed or names an unknown schema, then a Campaign fault says why and nothing is written', async () => {
    const prefix = uniqueId('PkgBad');
    const cases: [unknown, string, RegExp][] = [
      [DomUtil.parse('<pkgDesc><nothing/></pkgDesc>'), 'XTK-170300', /no <package>/],
      [xmlPackage(`<entities><option name="${prefix}1"/></entities>`), 'XTK-170300', /does not say which schema/],
      [xmlPackage(`<options><option name="${prefix}2"/></options>`), 'XTK-170300', /<options>/],
      [
        xmlPackage(`<entities schema="xtk:option"><option name="${prefix}3"/></entities><entities schema="cus:nothing"><nothing/></entities>`),
        'XTK-170101',
        /cus:nothing/,
      ],
      [xmlPackage(`<entities schema="xtk:option"><option name="${prefix}4" noSuchField="x"/></entities>`), 'XTK-170102', /noSuchField/],
    ];
    for (const [doc, code, text] of cases) {
      const err = await failure(install(doc));
      expect(err.errorCode).toBe(code);
      expect(err.faultString).toMatch(text);
    }
    // On the wire: no parameter, a text instead of a document, a document that is not well-formed, anonymous.
    const session = await rawLogon(platform.gatewayUrl, 'admin', 'admin');
    const raw = (inner: string, as = session) =>
      rawCall(platform.gatewayUrl, as, 'xtk:builder', 'InstallPackage', inner).then(
        () => 'ok',
        (e: Error) => e.message,
      );
    expect(await raw('')).toMatch(/SOP-330008 .*parameters/);
    expect(await raw('<parameters>just text</parameters>')).toMatch(/SOP-330008 .*parameters/);
    expect(await raw(`<parameters><package><entities schema="xtk:option"><option name="${prefix}5"></entities></package></parameters>`)).toMatch(/SOP-330001/);
    expect(await raw(`<parameters><package/></parameters>`, { token: '', security: '' })).toMatch(/XSV-350008/);
    // JSON with no package at all.
    expect((await failure(admin.NLWS.xtkBuilder.installPackage({ nothing: { a: '1' } }))).errorCode).toBe('XTK-170300');
    expect(await optionsNamed(prefix)).toEqual([]);
  });

  it('when a package is larger than an installation takes, then XTK-170301 and nothing is written; the largest allowed one installs', async () => {
    const prefix = uniqueId('PkgBig');
    const options = (n: number) => Array.from({ length: n }, (_, i) => `<option name="${prefix}${i}" stringValue="${i}"/>`).join('');
    const err = await failure(install(xmlPackage(`<entities schema="xtk:option">${options(201)}</entities>`)));
    expect(err.errorCode).toBe('XTK-170301');
    expect(await optionsNamed(prefix)).toEqual([]);
    const started = Date.now();
    const report = await install(xmlPackage(`<entities schema="xtk:option">${options(200)}</entities>`));
    const ms = Date.now() - started;
    expect(report.created).toBe(200);
    expect(await optionsNamed(prefix)).toHaveLength(200);
    console.log(`InstallPackage of 200 options: ${ms} ms`);
  });

  it('when a non-admin installs a package, even one granting itself admin, then XSV-350013 and its rights are unchanged', async () => {
    const prefix = uniqueId('PkgMc');
    const grant = xmlPackage(`<entities schema="xtk:operator"><operator name="mc" rights="admin"/></entities>`);
    const err = await failure(mc.NLWS.xml.xtkBuilder.installPackage(grant));
    expect(err.errorCode).toBe('XSV-350013');
    expect(
      (await failure(mc.NLWS.xml.xtkBuilder.installPackage(xmlPackage(`<entities schema="xtk:option"><option name="${prefix}"/></entities>`)))).errorCode,
    ).toBe('XSV-350013');
    expect(await localDb(async (c) => (await c.query(`SELECT rights FROM xtk_operator WHERE name = 'mc'`)).rows)).toEqual([{ rights: 'messageCenter' }]);
    expect(await optionsNamed(prefix)).toEqual([]);
    // The same call by mc after the refusal still has mc's rights: no admin call went through.
    expect((await failure(mc.NLWS.xtkQueryDef.create({ queryDef: { schema: 'xtk:option', operation: 'select' } }).buildQuery())).errorCode).toBe('XSV-350013');
  });

  it('when a package holds an xtk:srcSchema and records of that schema, then the schema is authored first and its records written', async () => {
    const name = `pkg${uniqueId('s').replace(/[^A-Za-z0-9]/g, '')}`;
    const doc = xmlPackage(
      `<entities schema="xtk:srcSchema"><srcSchema namespace="cus" name="${name}" implements="xtk:persist" placement="local">` +
        `<element name="${name}" autopk="true"><key name="title"><keyfield xpath="@title"/></key><attribute name="title" type="string" length="64"/></element>` +
        `</srcSchema></entities>` +
        `<entities schema="cus:${name}"><${name} title="first"/><${name} title="second"/></entities>`,
    );
    const report = await install(doc);
    expect(report.entities.map((e) => [e.schema, e.outcome])).toEqual([
      [`cus:${name}`, 'created'],
      [`cus:${name}`, 'created'],
    ]);
    expect((await admin.getEntityIfMoreRecent('xtk:srcSchema', `cus:${name}`, 'xml')).nodeName).toBe('srcSchema');
    const rows = await admin.NLWS.xtkQueryDef
      .create({ queryDef: { schema: `cus:${name}`, operation: 'select', select: { node: [{ expr: '@title' }] }, orderBy: { node: [{ expr: '@title' }] } } })
      .executeQuery();
    expect(JSON.stringify(rows)).toMatch(/first.*second/);
  });

  it('when a package brings an xtk:srcSchema that cannot be compiled, then XTK-170250 and nothing of the package is written', async () => {
    const prefix = uniqueId('PkgSrc');
    const doc = xmlPackage(
      `<entities schema="xtk:srcSchema"><srcSchema namespace="cus" name="pkgBroken"><element name="pkgBroken"><attribute name="x" type="nonsense"/></element></srcSchema></entities>` +
        `<entities schema="xtk:option"><option name="${prefix}"/></entities>`,
    );
    const err = await failure(install(doc));
    expect(err.errorCode).toBe('XTK-170250');
    expect(await optionsNamed(prefix)).toEqual([]);
    expect(await admin.getEntityIfMoreRecent('xtk:srcSchema', 'cus:pkgBroken')).toBeNull();
  });

  it('when a package holds external accounts, then their clear passwords are stored as tokens only, and a forged token refuses the package', async () => {
    const name = uniqueId('pkgAcc');
    await install(xmlPackage(`<entities schema="nms:extAccount"><extAccount name="${name}" label="Pkg" type="11" password="Pkg s3cret"/></entities>`));
    const [stored] = await localDb(async (c) => (await c.query<{ password: string }>('SELECT password FROM nms_ext_account WHERE name = $1', [name])).rows);
    expect(stored!.password).toMatch(/^@/);
    expect(stored!.password).not.toContain('Pkg s3cret');
    const forged = uniqueId('pkgAcc');
    const err = await failure(
      install(
        xmlPackage(
          `<entities schema="nms:extAccount"><extAccount name="${forged}" label="Pkg" type="11" password="@not-a-token"/></entities>` +
            `<entities schema="xtk:option"><option name="${forged}"/></entities>`,
        ),
      ),
    );
    expect(err.errorCode).toBe('XTK-170200');
    expect(await localDb(async (c) => (await c.query('SELECT 1 FROM nms_ext_account WHERE name = $1', [forged])).rowCount)).toBe(0);
    expect(await optionsNamed(forged)).toEqual([]);
  });

  it('when a package holds entities of the local and of the cloud database, then XTK-170303 and nothing is written', async () => {
    const prefix = uniqueId('PkgSpan');
    const doc = xmlPackage(
      `<entities schema="xtk:option"><option name="${prefix}"/></entities>` +
        `<entities schema="nms:recipient"><recipient email="${prefix.toLowerCase()}@example.com"/></entities>`,
    );
    const err = await failure(install(doc));
    expect(err.errorCode).toBe('XTK-170303');
    expect(err.faultString).toMatch(/xtk:option.*nms:recipient/);
    expect(await optionsNamed(prefix)).toEqual([]);
  });

  it('when a package holds cloud entities only, then the cloud database installs it in one transaction, _key and _operation honoured', async () => {
    const prefix = uniqueId('pkgcloud');
    const emails = [`${prefix}a@example.com`, `${prefix}b@example.com`];
    const cloudEmails = () =>
      withDb(platform.cloudDb.url, async (c) =>
        (await c.query<{ email: string }>(`SELECT email FROM nms_recipient WHERE email LIKE $1 ORDER BY email`, [`${prefix}%`])).rows.map((r) => r.email),
      );
    const created = await install(
      xmlPackage(`<entities schema="nms:recipient">${emails.map((e) => `<recipient email="${e}" firstName="P"/>`).join('')}</entities>`),
    );
    expect(created.created).toBe(2);
    expect(created.entities.map((e) => e.key)).toEqual([expect.stringMatching(/^@id=[0-9a-f-]{36}$/), expect.stringMatching(/^@id=[0-9a-f-]{36}$/)]);
    expect(await cloudEmails()).toEqual(emails);
    // Found by the key the package names (_key), deleted and updated in the same transaction.
    const changed = await install(
      xmlPackage(
        `<entities schema="nms:recipient"><recipient _key="@email" _operation="delete" email="${emails[0]}"/><recipient _key="@email" _operation="update" email="${emails[1]}" firstName="Q"/></entities>`,
      ),
    );
    expect(changed).toMatchObject({
      deleted: 1,
      updated: 1,
      entities: [
        { key: `@email=${emails[0]}`, outcome: 'deleted' },
        { key: `@email=${emails[1]}`, outcome: 'updated' },
      ],
    });
    expect(await cloudEmails()).toEqual([emails[1]]);
  });

  it('when a package definition is generated, then the package holds the selected records without ids or server dates, and installs back', async () => {
    const prefix = uniqueId('PkgExp');
    await install(
      xmlPackage(`<entities schema="xtk:option"><option name="${prefix}A" stringValue="a"/><option name="${prefix}B" longValue="7" dataType="3"/></entities>`),
    );
    const spec = DomUtil.parse(
      `<specFile namespace="cus" name="export" label="Export"><definition schema="xtk:option"><where><condition expr="@name like '${prefix}%'"/></where></definition></specFile>`,
    );
    const pkg = await admin.NLWS.xml.xtkSpecFile.create(spec).generateDoc();
    const text: string = DomUtil.toXMLString(pkg);
    expect(pkg.getAttribute('name')).toBe('export');
    const entities = DomUtil.getFirstChildElement(pkg, 'entities');
    expect(entities.getAttribute('schema')).toBe('xtk:option');
    const names: string[] = [];
    for (let o = DomUtil.getFirstChildElement(entities, 'option'); o; o = DomUtil.getNextSiblingElement(o, 'option')) names.push(o.getAttribute('name'));
    expect(names.sort()).toEqual([`${prefix}A`, `${prefix}B`]);
    expect(text).not.toMatch(/ id="|created=|lastModified=/);
    // The generated package installs back as it is: both found by name, so updated.
    expect(await install(pkg)).toMatchObject({ created: 0, updated: 2 });
    // Admins only, as InstallPackage.
    expect((await failure(mc.NLWS.xml.xtkSpecFile.create(spec).generateDoc())).errorCode).toBe('XSV-350013');
    // A definition without a schema.
    expect((await failure(admin.NLWS.xml.xtkSpecFile.create(DomUtil.parse('<specFile><definition/></specFile>')).generateDoc())).errorCode).toBe('XTK-170300');
  });
});
