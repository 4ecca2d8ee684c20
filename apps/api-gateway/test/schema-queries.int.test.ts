import type pg from 'pg';
import { failure, sdkLogon, startTestPlatform, withDb, type SdkClient, type TestPlatform } from '@cap/platform-testing';

// Adobe's own client, unmodified: its DomUtil parses the XML documents the tests write.
const { DomUtil } = require('@adobe/acc-js-sdk');

const bookSchema = `<srcSchema namespace="cus" name="book" label="Books" labelSingular="Book" implements="xtk:persist" placement="local">
  <element name="book" autopk="true">
    <key name="title"><keyfield xpath="@title"/></key>
    <attribute name="title" type="string" length="64"/>
    <attribute name="pages" type="long"/>
  </element>
</srcSchema>`;

/** The rows of a select, whatever their number (SimpleJson gives one row as an object, several as an array). */
const rows = (result: Record<string, unknown>, name: string): Record<string, string>[] => [result[name] ?? []].flat() as Record<string, string>[];

// Listing the schemas of an instance with xtk:queryDef (docs/schema-authoring.md#listing-schemas-xtksrcschema-xtkschema-xtkentity-queries), through Adobe's
// own client, unmodified, as the SDK's "Manipulating schemas" page does it.
describe('xtk:srcSchema, xtk:schema and xtk:entity queries and xtk:builder#BuildSchemaFromId through the unmodified SDK', () => {
  let platform: TestPlatform;
  let admin: SdkClient;
  let mc: SdkClient;

  const query = (client: SdkClient, queryDef: Record<string, unknown>) => client.NLWS.xtkQueryDef.create(queryDef).executeQuery();
  const select = (client: SdkClient, schema: string, exprs: string[], extra: Record<string, unknown> = {}) =>
    query(client, { schema, operation: 'select', select: { node: exprs.map((expr) => ({ expr })) }, ...extra });
  const where = (...exprs: string[]) => ({ where: { condition: exprs.map((expr) => ({ expr })) } });
  const localDb = <T>(fn: (c: pg.Client) => Promise<T>): Promise<T> => withDb(platform.localDb.url, fn);
  const columns = (table: string) =>
    localDb(async (c) =>
      (await c.query<{ name: string }>(`SELECT column_name AS name FROM information_schema.columns WHERE table_name = $1`, [table])).rows.map((r) => r.name),
    );

  beforeAll(async () => {
    platform = await startTestPlatform();
    admin = await sdkLogon(platform.gatewayUrl, 'admin', 'admin');
    mc = await sdkLogon(platform.gatewayUrl, 'mc', 'mc');
    const doc = DomUtil.parse(bookSchema).documentElement;
    doc.setAttribute('xtkschema', 'xtk:srcSchema');
    await admin.NLWS.xml.xtkSession.write(doc);
    // An extension of a built-in: its own srcSchema, merged into the compiled nms:recipient.
    await admin.NLWS.xtkSession.write({
      xtkschema: 'xtk:srcSchema',
      namespace: 'cus',
      name: 'recipient',
      extendedSchema: 'nms:recipient',
      label: 'Recipients (cus)',
      element: { name: 'recipient', attribute: [{ name: 'shoeSize', type: 'long' }] },
    });
  });

  afterAll(async () => {
    await platform?.stop();
  });

  it("when the SDK's page lists the source schemas of namespace cus, then it gets the authored ones with their md5", async () => {
    const result = await select(admin, 'xtk:srcSchema', ['@namespace', '@name', '@label', '@md5'], { lineCount: 10, ...where("@namespace='cus'") });
    const found = rows(result, 'srcSchema');
    expect(found.map((r) => r.name).sort()).toEqual(['book', 'recipient']);
    const book = found.find((r) => r.name === 'book')!;
    expect(book).toMatchObject({ namespace: 'cus', label: 'Books' });
    // The md5 is the one GetEntityIfMoreRecent answers for the same entity.
    const src = await admin.getEntityIfMoreRecent('xtk:srcSchema', 'cus:book', 'xml');
    expect(book.md5).toBe(src.getAttribute('md5'));
  });

  it('when built-in source schemas are listed with orderBy, lineCount and startLine, then pages follow the order', async () => {
    const all = rows(await select(admin, 'xtk:srcSchema', ['@name'], { ...where("@namespace='nms'"), orderBy: { node: [{ expr: '@name' }] } }), 'srcSchema');
    const names = all.map((r) => r.name);
    expect(names).toEqual(expect.arrayContaining(['recipient', 'rtEvent', 'delivery']));
    expect(names).toEqual([...names].sort());
    const page = rows(
      await select(admin, 'xtk:srcSchema', ['@name'], {
        ...where("@namespace='nms'"),
        orderBy: { node: [{ expr: '@name', sortDesc: true }] },
        lineCount: 2,
        startLine: 1,
      }),
      'srcSchema',
    );
    expect(page.map((r) => r.name)).toEqual([...names].reverse().slice(1, 3));
    const counted = await query(admin, { schema: 'xtk:srcSchema', operation: 'count', ...where("@namespace='nms'") });
    expect(Number(counted.count)).toBe(names.length);
  });

  it('when a source schema is read with get, then its extendedSchema, dates and XML come back', async () => {
    const ext = await query(admin, {
      schema: 'xtk:srcSchema',
      operation: 'get',
      select: { node: [{ expr: '@extendedSchema' }, { expr: '@created' }, { expr: '@lastModified' }, { expr: 'data' }] },
      ...where("@namespace = 'cus' and @name='recipient'"),
    });
    expect(ext.extendedSchema).toBe('nms:recipient');
    expect(ext.created).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    expect(ext.lastModified).toMatch(/^\d{4}-\d{2}-\d{2} /);
    // SimpleJson carries a text element as `$data`.
    const data = ext.$data;
    expect(DomUtil.parse(data).documentElement.getAttribute('extendedSchema')).toBe('nms:recipient');
    const none = await query(admin, { schema: 'xtk:srcSchema', operation: 'getIfExists', select: { node: [{ expr: '@name' }] }, ...where("@name='nothing'") });
    expect(none).toBeNull();
  });

  it('when compiled schemas are queried, then an extension is merged into its base schema, with the served md5', async () => {
    const recipient = await query(admin, {
      schema: 'xtk:schema',
      operation: 'get',
      select: { node: [{ expr: '@name' }, { expr: '@namespace' }, { expr: '@label' }, { expr: '@library' }, { expr: '@md5' }] },
      ...where("@namespace = 'nms' and @name='recipient'"),
    });
    expect(recipient).toMatchObject({ namespace: 'nms', name: 'recipient', library: 'false' });
    const compiled = await admin.getEntityIfMoreRecent('xtk:schema', 'nms:recipient', 'xml');
    expect(recipient.md5).toBe(compiled.getAttribute('md5'));
    // No compiled cus:recipient: the extension lives in nms:recipient.
    expect(rows(await select(admin, 'xtk:schema', ['@name'], where("@namespace='cus'")), 'schema').map((r) => r.name)).toEqual(['book']);
  });

  it('when xtk:entity is queried on entitySchema, then source and compiled schemas come as separate entities', async () => {
    const result = await select(admin, 'xtk:entity', ['@name', '@namespace', '@label', '@entitySchema'], {
      lineCount: 10,
      ...where("@namespace = 'cus'", "@entitySchema IN ('xtk:schema', 'xtk:srcSchema')"),
      orderBy: { node: [{ expr: '@entitySchema' }, { expr: '@name' }] },
    });
    expect(rows(result, 'entity').map((r) => `${r.entitySchema} ${r.namespace}:${r.name}`)).toEqual([
      'xtk:schema cus:book',
      'xtk:srcSchema cus:book',
      'xtk:srcSchema cus:recipient',
    ]);
  });

  it('when a queryDef on xtk:entity selects all its fields (SelectAll), then each entity comes with its XML text', async () => {
    const queryDef = admin.NLWS.xtkQueryDef.create({ schema: 'xtk:entity', operation: 'select', ...where("@namespace='cus'", "@name='book'") });
    await queryDef.selectAll(false);
    const found = rows(await queryDef.executeQuery(), 'entity');
    expect(found.map((r) => r.entitySchema)).toEqual(['xtk:schema', 'xtk:srcSchema']);
    expect(found[0]).toMatchObject({ namespace: 'cus', name: 'book', label: 'Books', md5: expect.stringMatching(/^[0-9A-F]{32}$/) });
    expect(DomUtil.parse((found[1] as unknown as { $data: string }).$data).documentElement.getAttribute('labelSingular')).toBe('Book');
  });

  it('when an operator who is not an administrator lists schemas, then they are listed as GetEntityIfMoreRecent serves them', async () => {
    const found = rows(await select(mc, 'xtk:srcSchema', ['@name'], where("@namespace='cus' and @name='book'")), 'srcSchema');
    expect(found).toEqual([{ name: 'book' }]);
  });

  describe('hostile queries', () => {
    it('when an expression names an unknown field or does not parse, then XTK-170036 says so', async () => {
      const unknown = await failure(select(admin, 'xtk:srcSchema', ['@colour']));
      expect(unknown.errorCode).toBe('XTK-170036');
      expect(unknown.faultString).toContain("Unknown attribute '@colour'");
      const syntax = await failure(select(admin, 'xtk:srcSchema', ['@name'], where("@name = 'a' and and")));
      expect(syntax.errorCode).toBe('XTK-170036');
      const link = await failure(select(admin, 'xtk:entity', ['[folder/@label]']));
      expect(link.errorCode).toBe('XTK-170036');
    });

    it('when the query asks for what the schema catalog cannot answer, then XTK-170036 names it, never a crash', async () => {
      const grouped = await failure(select(admin, 'xtk:srcSchema', ['@namespace', 'Count(@name)'], { groupBy: { node: [{ expr: '@namespace' }] } }));
      expect(grouped.errorCode).toBe('XTK-170036');
      const sub = await failure(
        select(admin, 'xtk:srcSchema', ['@name'], {
          where: { condition: [{ expr: '@name', setOperator: 'IN', subQuery: { schema: 'nms:recipient', select: { node: [{ expr: '@lastName' }] } } }] },
        }),
      );
      expect(sub.errorCode).toBe('XTK-170036');
      const sql = await failure(admin.NLWS.xtkQueryDef.create({ schema: 'xtk:srcSchema', select: { node: [{ expr: '@name' }] } }).buildQuery());
      expect(sql.errorCode).toBe('XTK-170036');
      const typed = await failure(select(admin, 'xtk:srcSchema', ['@name'], where("@created > 'yesterday'")));
      expect(typed.errorCode).toBe('XTK-170036');
    });

    it('when lineCount is huge or the expression enormous, then the answer is bounded and quick', async () => {
      const started = Date.now();
      const all = rows(await select(admin, 'xtk:entity', ['@name'], { lineCount: 999_999_999 }), 'entity');
      expect(all.length).toBeGreaterThan(20);
      const long = await failure(select(admin, 'xtk:srcSchema', ['@name'], where(Array.from({ length: 20_000 }, () => "@name='x'").join(' or '))));
      expect(long.errorCode).toBe('XTK-170036');
      expect(Date.now() - started).toBeLessThan(10_000);
    });

    it('when the session is gone, then the query is refused as any other call', async () => {
      const gone = await sdkLogon(platform.gatewayUrl, 'mc', 'mc');
      const queryDef = gone.NLWS.xtkQueryDef.create({ schema: 'xtk:srcSchema', select: { node: [{ expr: '@name' }] } });
      await gone.logoff();
      const e = await failure(queryDef.executeQuery());
      expect(e.errorCode).toMatch(/^(XSV-35000[18]|SDK-0000\d\d)$/);
    });
  });

  describe('xtk:builder#BuildSchemaFromId', () => {
    it('when an administrator builds an authored schema whose column went missing, then it is compiled again from the stored source', async () => {
      // A drift only a rebuild repairs: the table lost a column its stored source declares.
      await localDb((c) => c.query('ALTER TABLE cus_book DROP COLUMN pages'));
      expect(await columns('cus_book')).not.toContain('pages');
      // The spelling of the SDK's "Manipulating schemas" page (upper-case B) and the SDK's usual lower-case one.
      await admin.NLWS.pushDown({ timeout: 60_000 }).xtkBuilder.BuildSchemaFromId('cus:book');
      expect(await columns('cus_book')).toContain('pages');
      await admin.NLWS.xtkBuilder.buildSchemaFromId('cus:book');
      await admin.NLWS.xtkSession.write({ xtkschema: 'cus:book', title: 'Dune', pages: 412 });
      expect(rows(await select(admin, 'cus:book', ['@pages'], where("@title='Dune'")), 'book')).toEqual([{ pages: '412' }]);
    });

    it('when the id names a built-in or an extension, then it is built; an unknown id is refused with XTK-170101', async () => {
      await admin.NLWS.xtkBuilder.buildSchemaFromId('nms:recipient');
      await admin.NLWS.xtkBuilder.buildSchemaFromId('cus:recipient');
      const unknown = await failure(admin.NLWS.xtkBuilder.buildSchemaFromId('cus:nothing'));
      expect(unknown.errorCode).toBe('XTK-170101');
      const empty = await failure(admin.NLWS.xtkBuilder.buildSchemaFromId(''));
      expect(empty.errorCode).toBe('XTK-170101');
      const huge = await failure(admin.NLWS.xtkBuilder.buildSchemaFromId(`cus:${'x'.repeat(100_000)}`));
      expect(huge.errorCode).toMatch(/^(XTK-170101|SOP-330008)$/);
    });

    it('when an operator who is not an administrator builds a schema, then access is denied', async () => {
      const e = await failure(mc.NLWS.xtkBuilder.buildSchemaFromId('cus:book'));
      expect(e.errorCode).toBe('XSV-350013');
    });
  });
});
