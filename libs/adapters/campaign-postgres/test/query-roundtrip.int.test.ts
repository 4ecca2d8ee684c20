// Round trip of the query compiler against real PostgreSQL: queryDef → SQL + params → pg → shaped result.
// The tables are hand-written here (the DDL generator is another piece of work); a first test checks they
// have exactly the compiled schemas' columns, so the two cannot drift apart silently.
import pg from 'pg';
import { loadSchemaRegistry, SOURCE_BUILTIN_SCHEMA_DIR } from '@cap/campaign-files';
import { compileQueryDef, shapeRows, shapeRowsAsObjects, type CompileOptions, type SimpleJsonQueryDef } from '@cap/campaign-query';
import type { Schema } from '@cap/campaign-schema';
import { parseXml, serializeXml } from '@cap/campaign-xml';
import { createTestDatabase, type TestDatabase } from '@cap/platform-testing';

const DDL = `
CREATE TABLE xtk_folder (id bigint PRIMARY KEY, name text NOT NULL, label text, model text, full_name text, parent_id bigint, entity text, schema text,
  image_namespace text, image_name text,
  created timestamptz, last_modified timestamptz);
CREATE TABLE nms_service (id bigint PRIMARY KEY, name text NOT NULL, label text, type smallint, mode text, folder_id bigint, visitor_folder_id bigint,
  created timestamptz, last_modified timestamptz);
CREATE TABLE nms_recipient (id text PRIMARY KEY, email text, first_name text, last_name text, email_format smallint, gender smallint,
  birth_date date, black_list boolean, phone text, mobile_phone text, external_id text, location_address1 text, location_city text,
  location_zip_code text, location_country_code text, comment text, created timestamptz, last_modified timestamptz, folder_id bigint);
CREATE TABLE nms_subscription (id text PRIMARY KEY, expiration_date date, created timestamptz, last_modified timestamptz,
  recipient_id text, service_id bigint);
`;

const ANN = '0b6c3c2e-5a7e-4c1b-9f00-000000000001';
const BOB = '0b6c3c2e-5a7e-4c1b-9f00-000000000002';
const CAROL = '0b6c3c2e-5a7e-4c1b-9f00-000000000003';

// Bob was created at 02:00 UTC on 1 January 2024: still 2023 in New York, where the session runs.
const SEED = `
INSERT INTO xtk_folder (id, name, label, parent_id) VALUES (1, 'nmsRootRecipient', 'Recipients', NULL), (2, 'customers', 'Customers', 1);
INSERT INTO nms_service (id, name, label, type, folder_id) VALUES (1, 'newsletter', 'Newsletter', 0, 2), (2, 'sms', 'SMS alerts', 1, 2);
INSERT INTO nms_recipient (id, email, first_name, last_name, gender, email_format, birth_date, black_list, phone, location_city,
  location_zip_code, comment, created, folder_id) VALUES
  ('${ANN}', 'ann@Example.com', 'Ann', 'Lee', 2, 2, '1990-05-17', false, ' 0612345678 ', 'Paris', '75001', 'Met at the fair',
   '2024-12-01 10:00:00.250+00', 2),
  ('${BOB}', 'bob@example.org', 'Bob', 'Stone', 1, 1, NULL, true, NULL, NULL, NULL, NULL, '2024-01-01 02:00:00+00', 1),
  ('${CAROL}', 'carol_o''brien@example.com', 'Carol', 'O''Brien', 0, 0, '2002-02-01', false, NULL, 'Dublin', NULL,
   'x'' OR ''1''=''1 --', '2023-05-05 12:00:00+00', NULL);
INSERT INTO nms_subscription (id, expiration_date, recipient_id, service_id) VALUES
  ('s1', '2030-01-01', '${ANN}', 1), ('s2', NULL, '${ANN}', 2), ('s3', '2020-01-01', '${BOB}', 2);
`;

describe('queryDef round trip on real PostgreSQL', () => {
  const schemas: Map<string, Schema> = loadSchemaRegistry({ builtinDir: SOURCE_BUILTIN_SCHEMA_DIR });
  let db: TestDatabase;
  let client: pg.Client;

  beforeAll(async () => {
    db = await createTestDatabase('cap_query');
    // A session time zone far from UTC: results and date functions must not depend on it.
    client = new pg.Client({ connectionString: db.url, options: '-c TimeZone=America/New_York' });
    await client.connect();
    await client.query(DDL);
    await client.query(SEED);
  });

  afterAll(async () => {
    await client?.end();
    await db?.drop();
  });

  async function run(query: string | SimpleJsonQueryDef, options: CompileOptions = { database: 'cloud' }) {
    const compiled = compileQueryDef(typeof query === 'string' ? parseXml(query) : query, schemas, options);
    const { rows } = await client.query(compiled.sql, compiled.params);
    return { rows, compiled, xml: () => serializeXml(shapeRows(compiled.shape, rows)), objects: () => shapeRowsAsObjects(compiled.shape, rows) };
  }

  it('when the hand-written tables are compared with the compiled schemas, then they have exactly their columns', async () => {
    for (const id of ['xtk:folder', 'nms:service', 'nms:recipient', 'nms:subscription']) {
      const schema = schemas.get(id)!;
      const { rows } = await client.query<{ column_name: string }>('SELECT column_name FROM information_schema.columns WHERE table_name = $1', [schema.table]);
      expect(rows.map((r) => r.column_name).sort()).toEqual(schema.fields.map((f) => f.column).sort());
    }
  });

  it('when recipients are selected with joins, paths, a memo and an analysed enumeration, then every row is shaped as Campaign does', async () => {
    const r = await run(`<queryDef schema="nms:recipient" operation="select">
      <select><node expr="@id"/><node expr="@email"/><node expr="[location/@city]"/><node expr="[location/@zipCode]" alias="@zip"/>
        <node expr="[folder/@label]"/><node expr="[folder/parent/@name]"/><node expr="@blackList"/><node expr="@created"/>
        <node expr="@birthDate"/><node expr="@gender" analyze="true"/><node expr="comment"/><node expr="[@folder-id]"/></select>
      <orderBy><node expr="@email"/></orderBy></queryDef>`);
    expect(r.xml()).toBe(
      '<recipient-collection>' +
        `<recipient id="${ANN}" email="ann@Example.com" zip="75001" blackList="false" created="2024-12-01 10:00:00.250Z" birthDate="1990-05-17" gender="2" genderName="female" genderLabel="Female" folder-id="2">` +
        '<location city="Paris"/><folder label="Customers"><parent name="nmsRootRecipient"/></folder><comment>Met at the fair</comment></recipient>' +
        `<recipient id="${BOB}" email="bob@example.org" blackList="true" created="2024-01-01 02:00:00.000Z" gender="1" genderName="male" genderLabel="Male" folder-id="1">` +
        '<folder label="Recipients"/></recipient>' +
        `<recipient id="${CAROL}" email="carol_o&apos;brien@example.com" blackList="false" created="2023-05-05 12:00:00.000Z" birthDate="2002-02-01" gender="0" genderName="unknown" genderLabel="Not specified">` +
        `<location city="Dublin"/><comment>x' OR '1'='1 --</comment></recipient>` +
        '</recipient-collection>',
    );
    const objects = r.objects() as { recipient: Record<string, unknown>[] };
    expect(objects.recipient).toHaveLength(3);
    expect(objects.recipient[0]).toEqual({
      id: ANN,
      email: 'ann@Example.com',
      location: { city: 'Paris' },
      zip: '75001',
      folder: { label: 'Customers', parent: { name: 'nmsRootRecipient' } },
      blackList: 'false',
      created: '2024-12-01 10:00:00.250Z',
      birthDate: '1990-05-17',
      gender: '2',
      genderName: 'female',
      genderLabel: 'Female',
      $comment: 'Met at the fair',
      'folder-id': '2',
    });
  });

  it('when conditions combine AND/OR, nesting, IN, LIKE and IS NULL, then the matching rows come back', async () => {
    const emails = async (where: string) =>
      (
        await run(
          `<queryDef schema="nms:recipient"><select><node expr="@email"/></select><where>${where}</where><orderBy><node expr="@email"/></orderBy></queryDef>`,
        )
      ).rows.map((row: { c0: string }) => row.c0);
    expect(
      await emails(`<condition expr="@gender = 1" boolOperator="OR"/><condition expr="@firstName = 'Ann'"/><condition expr="@blackList = false"/>`),
    ).toEqual(['ann@Example.com', 'bob@example.org']);
    expect(
      await emails(
        `<condition><condition expr="@gender = 1" boolOperator="OR"/><condition expr="@gender = 2"/></condition><condition expr="comment IS NOT NULL"/>`,
      ),
    ).toEqual(['ann@Example.com']);
    expect(await emails(`<condition expr="@gender IN (0, 1) AND [location/@city] IS NULL"/>`)).toEqual(['bob@example.org']);
    expect(await emails(`<condition expr="Lower(@email) LIKE '%@example.com' AND @email NOT LIKE 'carol%'"/>`)).toEqual(['ann@Example.com']);
    expect(await emails(`<condition expr="@email LIKE 'carol\\_o%'"/>`)).toEqual(["carol_o'brien@example.com"]);
    expect(await emails(`<condition expr="[folder/parent/@name] = 'nmsRootRecipient' OR [folder/@name] NOT IN ('customers')"/>`)).toEqual([
      'ann@Example.com',
      'bob@example.org',
    ]);
  });

  it('when dates and date functions are used, then they work in UTC whatever the session time zone', async () => {
    const r = await run(`<queryDef schema="nms:recipient">
      <select><node expr="@email"/><node expr="Year(@created)" alias="@year"/><node expr="DateOnly(@created)" alias="@day"/><node expr="Hour(@created)" alias="@hour"/></select>
      <where><condition expr="@created &gt;= #2024-01-01# AND @created &lt; #2024-12-01 10:00:00.250# OR @birthDate = #2002/02/01#"/></where>
      <orderBy><node expr="@created"/></orderBy></queryDef>`);
    expect(r.objects()).toEqual({
      recipient: [
        { email: "carol_o'brien@example.com", year: '2023', day: '2023-05-05', hour: '12' },
        { email: 'bob@example.org', year: '2024', day: '2024-01-01', hour: '2' },
      ],
    });
  });

  it('when collection links are tested with EXISTS, NOT EXISTS, sub-queries and Count, then the right recipients match', async () => {
    const r = await run(`<queryDef schema="nms:recipient">
      <select><node expr="@email"/><node expr="Count([subscription/@id])" alias="@subscriptions"/></select>
      <where>
        <condition expr="subscription"/>
        <condition expr="subscription" setOperator="NOT EXISTS"><condition expr="[service/@name] = 'sms'"/><condition expr="@expirationDate &lt; #2021-01-01#"/></condition>
      </where></queryDef>`);
    expect(r.objects()).toEqual({ recipient: [{ email: 'ann@Example.com', subscriptions: '2' }] });

    const sub = await run({
      schema: 'nms:recipient',
      select: { node: { expr: '@email' } },
      where: {
        condition: [
          {
            expr: '@id',
            setOperator: 'NOT IN',
            subQuery: {
              schema: 'nms:subscription',
              select: { node: { expr: '[@recipient-id]' } },
              where: { condition: { expr: "[service/@name] = 'newsletter'" } },
            },
          },
          { setOperator: 'EXISTS', subQuery: { schema: 'nms:subscription', where: { condition: { expr: '[@recipient-id] = [../@id]' } } } },
        ],
      },
    });
    expect(sub.objects()).toEqual({ recipient: [{ email: 'bob@example.org' }] });
  });

  it('when rows are grouped with having and ordered by an aggregate, then the groups are counted', async () => {
    const r = await run(`<queryDef schema="nms:subscription">
      <select><node expr="[service/@name]" alias="@service" groupBy="true"/><node expr="Count(@id)" alias="@n"/><node expr="Max(@expirationDate)" alias="@last"/></select>
      <having><condition expr="Count(@id) &gt;= 1"/></having>
      <orderBy><node expr="@n" sortDesc="true"/><node expr="@service"/></orderBy></queryDef>`);
    expect(r.xml()).toBe(
      '<subscription-collection><subscription service="sms" n="2" last="2020-01-01"/><subscription service="newsletter" n="1" last="2030-01-01"/></subscription-collection>',
    );
  });

  it('when counting, then the result is the count element, with or without groupBy', async () => {
    expect((await run(`<queryDef schema="nms:recipient" operation="count"><where><condition expr="@blackList = false"/></where></queryDef>`)).xml()).toBe(
      '<recipient count="2"/>',
    );
    expect((await run({ schema: 'nms:subscription', operation: 'count', groupBy: { node: { expr: '[@recipient-id]' } } })).objects()).toEqual({ count: '2' });
  });

  it('when get finds a record, then it is the element; when it finds none, then shaping raises XSV-350122', async () => {
    const found = await run({
      schema: 'nms:service',
      operation: 'get',
      select: { node: [{ expr: '@name' }, { expr: '@type', analyze: true }, { expr: '[folder/@label]' }] },
      where: { condition: { expr: "@name = 'sms'" } },
    });
    expect(found.xml()).toBe('<service name="sms" type="1" typeName="mobile" typeLabel="SMS"><folder label="Customers"/></service>');
    const none = await run({ schema: 'nms:service', operation: 'get', select: { node: { expr: '@name' } }, where: { condition: { expr: "@name = 'fax'" } } });
    expect(() => none.xml()).toThrow("XSV-350122 No record found for query on 'nms:service'");
  });

  it('when getIfExists finds a record with NULLs, then every selected attribute is written; when none, then an empty element', async () => {
    const q = (email: string) => ({
      schema: 'nms:recipient',
      operation: 'getIfExists',
      select: { node: [{ expr: '@email' }, { expr: '[location/@city]' }, { expr: '@birthDate' }] },
      where: { condition: { expr: `@email = '${email}'` } },
    });
    expect((await run(q('bob@example.org'))).xml()).toBe('<recipient email="bob@example.org" birthDate=""><location city=""/></recipient>');
    expect((await run(q('nobody@example.org'))).xml()).toBe('<recipient/>');
    expect((await run(q('nobody@example.org'))).objects()).toBeNull();
  });

  it('when paging with lineCount and startLine, then pages follow the order and a large lineCount is capped', async () => {
    const page = async (startLine: number) =>
      (
        await run({ schema: 'nms:recipient', lineCount: 2, startLine, select: { node: { expr: '@firstName' } }, orderBy: { node: { expr: '@firstName' } } })
      ).rows.map((row: { c0: string }) => row.c0);
    expect(await page(0)).toEqual(['Ann', 'Bob']);
    expect(await page(2)).toEqual(['Carol']);
    const capped = await run({ schema: 'nms:recipient', lineCount: 50, select: { node: { expr: '@id' } } }, { database: 'cloud', maxLineCount: 1 });
    expect(capped.rows).toHaveLength(1);
  });

  it('when functions are selected, then PostgreSQL computes what Campaign would', async () => {
    const r = await run({
      schema: 'nms:recipient',
      operation: 'get',
      select: {
        node: [
          { expr: "@lastName + ', ' + Upper(@firstName)", alias: '@display' },
          { expr: 'Substring(Trim(@phone), 1, 4)', alias: '@prefix' },
          { expr: 'GetEmailDomain(@email)', alias: '@domain' },
          { expr: "Iif(@gender = 2, 'F', 'M')", alias: '@g' },
          { expr: 'IsNull(@mobilePhone, Trim(@phone))', alias: '@tel' },
          { expr: "Coalesce(@externalId, 'none')", alias: '@ext' },
          { expr: 'Round(Length(@email) / 3.0, 2)', alias: '@r' },
          { expr: '-Abs(@gender) * 2 + 1', alias: '@n' },
          { expr: 'Month(@birthDate)', alias: '@month' },
        ],
      },
      where: { condition: { expr: `@id = '${ANN}'` } },
    });
    expect(r.objects()).toEqual({
      display: 'Lee, ANN',
      prefix: '0612',
      domain: 'example.com',
      g: 'F',
      tel: '0612345678',
      ext: 'none',
      r: '5',
      n: '-3',
      month: '5',
    });
  });

  it('when hostile values are compiled (S2), then they are only data: they match nothing, or exactly the row that holds them', async () => {
    const hits = async (expr: string) =>
      (await run({ schema: 'nms:recipient', select: { node: { expr: '@email' } }, where: { condition: { expr } } })).rows.length;
    expect(await hits("@lastName = 'O''Brien'")).toBe(1);
    expect(await hits("@lastName = 'O\\'Brien'")).toBe(1);
    expect(await hits("@email = 'x'' OR ''1''=''1'")).toBe(0);
    expect(await hits("comment = 'x'' OR ''1''=''1 --'")).toBe(1);
    expect(await hits("@email = 'x\\'; DROP TABLE nms_recipient; --'")).toBe(0);
    expect(await hits("@email IN ('a'', ''b', 'c''); DELETE FROM nms_recipient; --')")).toBe(0);
    expect(await hits("@email = 'a＇ OR ＇1＇=＇1'")).toBe(0);
    expect(await hits(`@email = '${"'' OR 1=1 --".repeat(500)}'`)).toBe(0);
    const { rows } = await client.query<{ n: string }>('SELECT count(*) AS n FROM nms_recipient');
    expect(rows[0]!.n).toBe('3');
  });

  it('when folders are queried in the local database, then self-joins and the children collection work', async () => {
    const r = await run(
      `<queryDef schema="xtk:folder"><select><node expr="@name"/><node expr="[parent/@label]"/><node expr="Count([children/@id])" alias="@children"/></select>
        <where><condition expr="children" boolOperator="OR"/><condition expr="[parent/@name] = 'nmsRootRecipient'"/></where><orderBy><node expr="@id"/></orderBy></queryDef>`,
      { database: 'local' },
    );
    expect(r.xml()).toBe(
      '<folder-collection><folder name="nmsRootRecipient" children="1"/><folder name="customers" children="0"><parent label="Recipients"/></folder></folder-collection>',
    );
  });

  it('when the pinned query forms of the unit tests run, then PostgreSQL accepts every one of them', async () => {
    const forms = [
      `<queryDef schema="nms:recipient"><select><node expr="@id"/></select><where><condition expr="@firstName = 'Ann'" boolOperator="OR"/><condition expr="@lastName = 'Lee'"/>
        <condition bool-operator="OR"><condition expr="@gender = 1" boolOperator="OR"/><condition expr="@gender = 2"/></condition>
        <condition expr="@email IS NOT NULL AND (@emailFormat = 2 OR NOT @blackList)"/></where></queryDef>`,
      `<queryDef schema="nms:recipient" distinct="true"><select><node expr="@lastName + ', ' + Upper(@firstName)" alias="@display"/><node expr="Substring(Trim(@phone), 1, 3)" alias="@prefix"/>
        <node expr="Iif(@gender = 1, 'M', 'F')" alias="@g"/><node expr="IsNull(@mobilePhone, @phone)" alias="@tel"/><node expr="Round(Length(@email) / 3.0, 2)" alias="@r"/>
        <node expr="Coalesce([location/@city], 'unknown')" alias="@city"/><node expr="-Abs(@emailFormat) * 2 + 1" alias="@n"/></select></queryDef>`,
      `<queryDef schema="nms:recipient"><select><node expr="[location/@city]" alias="@city" groupBy="true"/><node expr="Count(@id)" alias="@total"/>
        <node expr="CountDistinct(@lastName)" alias="@names"/><node expr="Avg(Year(@birthDate))" alias="@avgYear"/></select>
        <where><condition expr="@blackList = false"/></where><groupBy><node expr="@gender"/></groupBy><having><condition expr="Count(@id) &gt; 10"/></having>
        <orderBy><node expr="@total" sortDesc="true"/></orderBy></queryDef>`,
      `<queryDef schema="nms:recipient" operation="count"><groupBy><node expr="GetEmailDomain(@email)"/></groupBy><having><condition expr="countall() &gt; 1"/></having></queryDef>`,
      `<queryDef schema="nms:recipient"><select><node expr="@id"/></select><where><condition expr="@lastModified &lt; #2024-12-01 10:00:00#"/>
        <condition expr="@created &lt;= GetDate()"/><condition expr="Month(@birthDate) = 12"/><condition expr="DateOnly(@created) = #2024-12-01#"/>
        <condition expr="'x' = 'x' AND true AND 1.5 &gt; @gender AND @gender &lt;&gt; 12345678901"/></where></queryDef>`,
    ];
    for (const form of forms) await expect(run(form)).resolves.toBeDefined();
  });
});
