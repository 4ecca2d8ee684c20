import { parseXml } from '@cap/campaign-xml';
import { compileBuiltinSchemas } from '../test/builtin-schemas.fixture';
import { thrownBy } from '../test/thrown.fixture';
import { compileQueryDef, type CompileOptions } from './query-def.compiler';
import type { SimpleJsonQueryDef } from './query-def.model';
import { QueryError } from './query.error';
import { XtkExpressionError } from './xtk-expression.error';

const schemas = compileBuiltinSchemas();

function compile(xml: string, options?: CompileOptions) {
  return compileQueryDef(parseXml(xml), schemas, options);
}

function failure(input: string | SimpleJsonQueryDef, options?: CompileOptions, registry = schemas): QueryError {
  return thrownBy(QueryError, () => compileQueryDef(typeof input === 'string' ? parseXml(input) : input, registry, options), 'compiled');
}

describe('compileQueryDef: pinned SQL on the built-in schemas', () => {
  it('when a select joins each distinct single-link path once (t0, t1), with paging and a descending order, then the SQL and parameters are as pinned', () => {
    const { sql, params } = compile(`<queryDef schema="nms:recipient" operation="select" lineCount="50" startLine="100">
  <select><node expr="@email"/><node expr="[location/@city]" alias="@city"/><node expr="[folder/@label]"/><node expr="[folder/@name]"/><node expr="[folder/parent/@label]"/></select>
  <where><condition expr="@blackList = false"/></where>
  <orderBy><node expr="@lastName" sortDesc="true"/><node expr="@email"/></orderBy>
</queryDef>`);
    expect(sql).toBe(
      'SELECT "r0"."email" AS "c0", "r0"."location_city" AS "c1", "t0"."label" AS "c2", "t0"."name" AS "c3", "t1"."label" AS "c4" FROM "nms_recipient" AS "r0" LEFT JOIN "xtk_folder" AS "t0" ON "t0"."id" = "r0"."folder_id" LEFT JOIN "xtk_folder" AS "t1" ON "t1"."id" = "t0"."parent_id" WHERE "r0"."black_list" = $1 ORDER BY "r0"."last_name" DESC, "r0"."email" LIMIT $2 OFFSET $3',
    );
    expect(params).toEqual([false, 50, 100]);
  });

  it('when boolOperator joins a condition to the next one, AND binding tighter, and nested conditions are a bracket, then the SQL and parameters are as pinned', () => {
    const { sql, params } = compile(`<queryDef schema="nms:recipient">
  <select><node expr="@id"/></select>
  <where>
    <condition expr="@firstName = 'Ann'" boolOperator="OR"/>
    <condition expr="@lastName = 'Lee'"/>
    <condition bool-operator="OR"><condition expr="@gender = 1" boolOperator="OR"/><condition expr="@gender = 2"/></condition>
    <condition expr="@email IS NOT NULL AND (@emailFormat = 2 OR NOT @blackList)"/>
  </where>
</queryDef>`);
    expect(sql).toBe(
      'SELECT "r0"."id" AS "c0" FROM "nms_recipient" AS "r0" WHERE "r0"."first_name" = $1 OR ("r0"."last_name" = $2 AND ("r0"."gender" = $3::integer OR "r0"."gender" = $4::integer)) OR ("r0"."email" IS NOT NULL AND ("r0"."email_format" = $5::integer OR NOT "r0"."black_list")) LIMIT $6',
    );
    expect(params).toEqual(['Ann', 'Lee', 1, 2, 2, 200]);
  });

  it('when IN, NOT IN, LIKE, NOT LIKE, IS NULL and IS NOT NULL bind every value, then the SQL and parameters are as pinned', () => {
    const { sql, params } = compile(`<queryDef schema="nms:recipient">
  <select><node expr="@id"/></select>
  <where>
    <condition expr="@gender IN (1, 2)"/>
    <condition expr="[location/@countryCode] NOT IN ('FR', 'DE')"/>
    <condition expr="Lower(@email) LIKE '%@example.com'"/>
    <condition expr="@lastName NOT LIKE 'X\\_%'"/>
    <condition expr="comment IS NULL"/>
    <condition expr="[folder/@label] IS NOT NULL"/>
  </where>
</queryDef>`);
    expect(sql).toBe(
      'SELECT "r0"."id" AS "c0" FROM "nms_recipient" AS "r0" LEFT JOIN "xtk_folder" AS "t0" ON "t0"."id" = "r0"."folder_id" WHERE "r0"."gender" IN ($1::integer, $2::integer) AND "r0"."location_country_code" NOT IN ($3, $4) AND lower("r0"."email") LIKE $5 AND "r0"."last_name" NOT LIKE $6 AND "r0"."comment" IS NULL AND "t0"."label" IS NOT NULL LIMIT $7',
    );
    expect(params).toEqual([1, 2, 'FR', 'DE', '%@example.com', 'X\\_%', 200]);
  });

  it('when date literals are bound as ISO text (a date against a datetime means midnight UTC) and date parts are taken in UTC, then the SQL and parameters are as pinned', () => {
    const { sql, params } = compile(`<queryDef schema="nms:recipient">
  <select><node expr="@id"/><node expr="Year(@created)" alias="@year"/><node expr="DateOnly(@created)" alias="@day"/></select>
  <where>
    <condition expr="@birthDate &lt; #2002/02/01#"/>
    <condition expr="@created &gt;= #2024-12-01#"/>
    <condition expr="@lastModified &lt; #2024-12-01 10:00:00#"/>
    <condition expr="@created &lt;= GetDate()"/>
    <condition expr="Month(@birthDate) = 12"/>
  </where>
</queryDef>`);
    expect(sql).toBe(
      'SELECT "r0"."id" AS "c0", CAST(EXTRACT(YEAR FROM timezone(make_interval(), "r0"."created")) AS integer) AS "c1", CAST(timezone(make_interval(), "r0"."created") AS date) AS "c2" FROM "nms_recipient" AS "r0" WHERE "r0"."birth_date" < $1 AND "r0"."created" >= $2 AND "r0"."last_modified" < $3 AND "r0"."created" <= now() AND CAST(EXTRACT(MONTH FROM "r0"."birth_date") AS integer) = $4::integer LIMIT $5',
    );
    expect(params).toEqual(['2002-02-01', '2024-12-01T00:00:00.000Z', '2024-12-01T10:00:00.000Z', 12, 200]);
  });

  it('when a subQuery gives EXISTS (correlated with [../@id]) and NOT IN, then the SQL and parameters are as pinned', () => {
    const { sql, params } = compile(`<queryDef schema="nms:recipient">
  <select><node expr="@email"/></select>
  <where>
    <condition setOperator="EXISTS">
      <subQuery schema="nms:subscription"><where><condition expr="[@recipient-id] = [../@id]"/><condition expr="[service/@name] = 'newsletter'"/></where></subQuery>
    </condition>
    <condition expr="@id" setOperator="NOT IN">
      <subQuery schema="nms:subscription"><select><node expr="[@recipient-id]"/></select><where><condition expr="@expirationDate &lt; #2024-01-01#"/></where></subQuery>
    </condition>
  </where>
</queryDef>`);
    expect(sql).toBe(
      'SELECT "r0"."email" AS "c0" FROM "nms_recipient" AS "r0" WHERE EXISTS (SELECT 1 FROM "nms_subscription" AS "r1" LEFT JOIN "nms_service" AS "t0" ON "t0"."id" = "r1"."service_id" WHERE "r1"."recipient_id" = "r0"."id" AND "t0"."name" = $1) AND "r0"."id" NOT IN (SELECT "r2"."recipient_id" FROM "nms_subscription" AS "r2" WHERE "r2"."expiration_date" < $2) LIMIT $3',
    );
    expect(params).toEqual(['newsletter', '2024-01-01', 200]);
  });

  it('when an EXISTS subQuery selects a value, then every bound parameter is referenced by the statement', () => {
    const { sql, params } = compile(
      `<queryDef schema="nms:recipient" operation="count"><where><condition setOperator="EXISTS"><subQuery schema="nms:recipient"><select><node expr="Lower('x')"/></select></subQuery></condition></where></queryDef>`,
    );
    // PostgreSQL refuses a statement given a parameter it does not use ("bind message supplies 1 parameters").
    for (let i = 1; i <= params.length; i++) expect(sql).toContain(`$${i}`);
    expect(params).toContain('x');
  });

  it('when a collection link alone is EXISTS, setOperator NOT EXISTS filters its rows, Count over it is a correlated count, then the SQL and parameters are as pinned', () => {
    const { sql, params } = compile(`<queryDef schema="nms:recipient">
  <select><node expr="@email"/></select>
  <where>
    <condition expr="subscription"/>
    <condition expr="subscription" setOperator="NOT EXISTS"><condition expr="[service/@name] = 'sms'"/><condition expr="@expirationDate IS NULL"/></condition>
    <condition expr="Count([subscription/@id]) &gt;= 2"/>
  </where>
</queryDef>`);
    expect(sql).toBe(
      'SELECT "r0"."email" AS "c0" FROM "nms_recipient" AS "r0" WHERE EXISTS (SELECT 1 FROM "nms_subscription" AS "r1" WHERE "r1"."recipient_id" = "r0"."id") AND NOT EXISTS (SELECT 1 FROM "nms_subscription" AS "r2" LEFT JOIN "nms_service" AS "t0" ON "t0"."id" = "r2"."service_id" WHERE "r2"."recipient_id" = "r0"."id" AND "t0"."name" = $1 AND "r2"."expiration_date" IS NULL) AND (SELECT count("r3"."id") FROM "nms_subscription" AS "r3" WHERE "r3"."recipient_id" = "r0"."id") >= $2::integer LIMIT $3',
    );
    expect(params).toEqual(['sms', 2, 200]);
  });

  it('when groupBy (element and select shortcut), having and ordering by an aggregate alias, then the SQL and parameters are as pinned', () => {
    const { sql, params } = compile(`<queryDef schema="nms:recipient">
  <select>
    <node expr="[location/@city]" alias="@city" groupBy="true"/><node expr="Count(@id)" alias="@total"/>
    <node expr="CountDistinct(@lastName)" alias="@names"/><node expr="Avg(Year(@birthDate))" alias="@avgYear"/>
  </select>
  <where><condition expr="@blackList = false"/></where>
  <groupBy><node expr="@gender"/></groupBy>
  <having><condition expr="Count(@id) &gt; 10"/></having>
  <orderBy><node expr="@total" sortDesc="true"/></orderBy>
</queryDef>`);
    expect(sql).toBe(
      'SELECT "r0"."location_city" AS "c0", count("r0"."id") AS "c1", count(DISTINCT "r0"."last_name") AS "c2", avg(CAST(EXTRACT(YEAR FROM "r0"."birth_date") AS integer)) AS "c3" FROM "nms_recipient" AS "r0" WHERE "r0"."black_list" = $1 GROUP BY "r0"."location_city", "r0"."gender" HAVING count("r0"."id") > $2::integer ORDER BY "c1" DESC LIMIT $3',
    );
    expect(params).toEqual([false, 10, 200]);
  });

  it('when count ignores select, order and paging, and joins only what its conditions need, then the SQL and parameters are as pinned', () => {
    const { sql, params } = compile(`<queryDef schema="nms:recipient" operation="count" lineCount="5">
  <select><node expr="[folder/parent/@label]"/></select>
  <where><condition expr="[folder/@name] = 'nmsRootRecipient'"/></where>
  <orderBy><node expr="@email"/></orderBy>
</queryDef>`);
    expect(sql).toBe(
      'SELECT count(*) AS "c0" FROM "nms_recipient" AS "r0" LEFT JOIN "xtk_folder" AS "t0" ON "t0"."id" = "r0"."folder_id" WHERE "t0"."name" = $1',
    );
    expect(params).toEqual(['nmsRootRecipient']);
  });

  it("when nms:recipient's country link (joined on location/@countryCode, not a foreign key) is selected and filtered on, then one LEFT JOIN on the ISO code, as pinned", () => {
    const { sql, params } = compile(`<queryDef schema="nms:recipient" operation="select">
  <select><node expr="@email"/><node expr="[country/@label]"/><node expr="[country/@isoA3]"/></select>
  <where><condition expr="[country/@isoA3] = 'FRA' OR [country/@label] IS NULL"/></where>
</queryDef>`);
    expect(sql).toBe(
      'SELECT "r0"."email" AS "c0", "t0"."label" AS "c1", "t0"."iso_a3" AS "c2" FROM "nms_recipient" AS "r0" LEFT JOIN "nms_country" AS "t0" ON "t0"."iso_a2" = "r0"."location_country_code" WHERE "t0"."iso_a3" = $1 OR "t0"."label" IS NULL LIMIT $2',
    );
    expect(params).toEqual(['FRA', 200]);
    // The same join from the recipient delivery logs (the SDK documentation's recipient/country/@isoA3).
    expect(compile(`<queryDef schema="nms:broadLogRcp"><select><node expr="[recipient/country/@isoA3]"/></select></queryDef>`).sql).toBe(
      'SELECT "t1"."iso_a3" AS "c0" FROM "nms_broad_log_rcp" AS "r0" LEFT JOIN "nms_recipient" AS "t0" ON "t0"."id" = "r0"."recipient_id" LEFT JOIN "nms_country" AS "t1" ON "t1"."iso_a2" = "t0"."location_country_code" LIMIT $1',
    );
  });

  it('when count with groupBy counts the groups, then the SQL and parameters are as pinned', () => {
    const { sql, params } = compile(`<queryDef schema="nms:recipient" operation="count">
  <groupBy><node expr="GetEmailDomain(@email)"/></groupBy>
  <having><condition expr="countall() &gt; 1"/></having>
</queryDef>`);
    expect(sql).toBe(
      'SELECT count(*) AS "c0" FROM (SELECT 1 FROM "nms_recipient" AS "r0" GROUP BY lower(split_part("r0"."email", chr(64), 2)) HAVING count(*) > $1::integer) AS "q"',
    );
    expect(params).toEqual([1]);
  });

  it('when get and getIfExists read one row (LIMIT 1 whatever lineCount says); big integers stay exact, then the SQL and parameters are as pinned', () => {
    const { sql, params } = compile(`<queryDef schema="xtk:folder" operation="getIfExists" lineCount="99">
  <select><node expr="@name"/><node expr="[parent/@name]"/></select>
  <where><condition expr="@id = 12345678901234567890"/></where>
</queryDef>`);
    expect(sql).toBe(
      'SELECT "r0"."name" AS "c0", "t0"."name" AS "c1" FROM "xtk_folder" AS "r0" LEFT JOIN "xtk_folder" AS "t0" ON "t0"."id" = "r0"."parent_id" WHERE "r0"."id" = $1::numeric LIMIT 1',
    );
    expect(params).toEqual(['12345678901234567890']);
  });

  it('when functions map to PostgreSQL; literals outside a comparison are cast; + on strings concatenates, then the SQL and parameters are as pinned', () => {
    const { sql, params } = compile(`<queryDef schema="nms:recipient" distinct="true">
  <select>
    <node expr="@lastName + ', ' + Upper(@firstName)" alias="@display"/>
    <node expr="Substring(Trim(@phone), 1, 3)" alias="@prefix"/>
    <node expr="Iif(@gender = 1, 'M', 'F')" alias="@g"/>
    <node expr="IsNull(@mobilePhone, @phone)" alias="@tel"/>
    <node expr="Round(Length(@email) / 3.0, 2)" alias="@r"/>
    <node expr="Coalesce([location/@city], 'unknown')" alias="@city"/>
    <node expr="-Abs(@emailFormat) * 2 + 1" alias="@n"/>
  </select>
</queryDef>`);
    expect(sql).toBe(
      'SELECT DISTINCT "r0"."last_name" || $1::text || upper("r0"."first_name") AS "c0", substr(btrim("r0"."phone"), $2::integer, $3::integer) AS "c1", CASE WHEN "r0"."gender" = $4::integer THEN $5::text ELSE $6::text END AS "c2", COALESCE("r0"."mobile_phone", "r0"."phone") AS "c3", round(CAST(length("r0"."email") / $7::numeric AS numeric), $8::integer) AS "c4", COALESCE("r0"."location_city", $9) AS "c5", -abs("r0"."email_format") * $10::integer + $11::integer AS "c6" FROM "nms_recipient" AS "r0" LIMIT $12',
    );
    expect(params).toEqual([', ', 1, 3, 1, 'M', 'F', 3, 2, 'unknown', 2, 1, 200]);
  });
});

describe('compileQueryDef: forms, options and result shape', () => {
  it('when the documented ExecuteQuery request comes as SimpleJson, then it compiles exactly like its XML form', () => {
    const json = {
      schema: 'nms:recipient',
      operation: 'select',
      lineCount: 10,
      select: { node: [{ expr: '@email' }, { expr: '@id' }, { expr: '[location/@city]', alias: '@city' }] },
      where: { condition: [{ expr: "@email = 'a@x.com'", boolOperator: 'OR' }, { expr: "@email = 'b@x.com'" }] },
      orderBy: { node: { expr: '@email', sortDesc: true } },
    };
    const xml = `<queryDef schema="nms:recipient" operation="select" lineCount="10">
      <select><node expr="@email"/><node expr="@id"/><node expr="[location/@city]" alias="@city"/></select>
      <where><condition expr="@email = 'a@x.com'" boolOperator="OR"/><condition expr="@email = 'b@x.com'"/></where>
      <orderBy><node expr="@email" sortDesc="true"/></orderBy></queryDef>`;
    const fromJson = compileQueryDef(json, schemas);
    expect(fromJson).toEqual(compile(xml));
    expect(fromJson.sql).toBe(
      'SELECT "r0"."email" AS "c0", "r0"."id" AS "c1", "r0"."location_city" AS "c2" FROM "nms_recipient" AS "r0" WHERE "r0"."email" = $1 OR "r0"."email" = $2 ORDER BY "r0"."email" DESC LIMIT $3',
    );
    expect(fromJson.params).toEqual(['a@x.com', 'b@x.com', 10]);
  });

  it('when no lineCount is given, then the default applies; a larger one is capped; both are configurable', () => {
    const q = (n?: number) => ({ schema: 'nms:recipient', select: { node: { expr: '@id' } }, ...(n === undefined ? {} : { lineCount: n }) });
    expect(compileQueryDef(q(), schemas).params).toEqual([200]);
    expect(compileQueryDef(q(0), schemas).params).toEqual([200]);
    expect(compileQueryDef(q(1_000_000), schemas).params).toEqual([10_000]);
    expect(compileQueryDef(q(), schemas, { defaultLineCount: 25 }).params).toEqual([25]);
    expect(compileQueryDef(q(600), schemas, { maxLineCount: 500 }).params).toEqual([500]);
  });

  it('when an aggregate is selected next to a plain field without groupBy, then the query is refused before reaching the database', () => {
    expect(() =>
      compile('<queryDef schema="xtk:operator" operation="select"><select><node expr="@name"/><node expr="Max(@label)"/></select></queryDef>'),
    ).toThrow(/^XTK-170036 '@name' is selected next to aggregates without <groupBy>/);
    expect(() =>
      compile('<queryDef schema="xtk:operator" operation="select"><select><node expr="Count(@id)"/><node expr="Max(@label)"/></select></queryDef>'),
    ).not.toThrow();
  });

  it('when columns are selected, then the shape names rows after the schema and nests paths like the schema', () => {
    const { shape } = compile(`<queryDef schema="nms:recipient" operation="get">
      <select><node expr="@email"/><node expr="[location/@city]"/><node expr="[location/@zipCode]" alias="@zip"/><node expr="comment"/>
      <node expr="[folder/parent/@label]"/><node expr="@gender" analyze="true"/><node expr="@created"/><node expr="Count(@id)"/><node expr="@email" alias="note"/></select>
      <groupBy><node expr="@email"/></groupBy></queryDef>`);
    expect(shape.operation).toBe('get');
    expect(shape.schemaId).toBe('nms:recipient');
    expect(shape.rowName).toBe('recipient');
    expect(shape.columns.map((c) => ({ alias: c.alias, path: c.path.join('/'), name: c.name, isElement: c.isElement, type: c.type }))).toEqual([
      { alias: 'c0', path: '', name: 'email', isElement: false, type: 'string' },
      { alias: 'c1', path: 'location', name: 'city', isElement: false, type: 'string' },
      { alias: 'c2', path: '', name: 'zip', isElement: false, type: 'string' },
      { alias: 'c3', path: '', name: 'comment', isElement: true, type: 'memo' },
      { alias: 'c4', path: 'folder/parent', name: 'label', isElement: false, type: 'string' },
      { alias: 'c5', path: '', name: 'gender', isElement: false, type: 'byte' },
      { alias: 'c6', path: '', name: 'created', isElement: false, type: 'datetime' },
      { alias: 'c7', path: '', name: 'expr7', isElement: false, type: 'int64' },
      { alias: 'c8', path: '', name: 'note', isElement: true, type: 'string' },
    ]);
    expect(shape.columns[5]!.enumeration!.values).toEqual({
      '0': { name: 'unknown', label: 'Not specified' },
      '1': { name: 'male', label: 'Male' },
      '2': { name: 'female', label: 'Female' },
    });
    expect(JSON.parse(JSON.stringify(shape))).toEqual(shape);
  });

  it('when a query uses one database, then a replicated schema joins from the cloud and the database can be chosen', () => {
    expect(compileQueryDef({ schema: 'nms:service', select: { node: { expr: '[folder/@label]' } } }, schemas, { database: 'cloud' }).sql).toContain(
      'FROM "nms_service" AS "r0" LEFT JOIN "xtk_folder" AS "t0"',
    );
    expect(compileQueryDef({ schema: 'nms:recipientStg', select: { node: { expr: '@email' } } }, schemas).sql).toContain('FROM "nms_recipient_stg" AS "r0"');
  });

  it('when a literal faces a column, then text and dates are bound bare (typed by the column) and numbers keep a cast', () => {
    const where = (expr: string) => {
      const { sql, params } = compileQueryDef({ schema: 'nms:recipient', select: { node: { expr: '@id' } }, where: { condition: { expr } } }, schemas);
      return [sql.slice(sql.indexOf('WHERE ') + 6, sql.indexOf(' LIMIT')), params.slice(0, -1)];
    };
    expect(where('@email = 5')).toEqual(['"r0"."email" = $1', [5]]);
    expect(where('5 = @email')).toEqual(['$1 = "r0"."email"', [5]]);
    expect(where('@gender = 3000000000')).toEqual(['"r0"."gender" = $1::bigint', [3_000_000_000]]);
    expect(where('@gender <> 99999999999999999999')).toEqual(['"r0"."gender" <> $1::numeric', ['99999999999999999999']]);
    expect(where('@gender < 1.5')).toEqual(['"r0"."gender" < $1::numeric', [1.5]]);
    expect(where('@created = #2024-01-01#')).toEqual(['"r0"."created" = $1', ['2024-01-01T00:00:00.000Z']]);
    expect(where('@birthDate = #2024-01-01 10:00:00#')).toEqual(['"r0"."birth_date" = $1', ['2024-01-01T10:00:00.000Z']]);
    expect(where("'a' = 'b'")).toEqual(['$1::text = $2::text', ['a', 'b']]);
    expect(where('@blackList = true')).toEqual(['"r0"."black_list" = $1', [true]]);
  });

  it('when the same expression is selected and grouped, then GROUP BY reuses the selected SQL (same parameters)', () => {
    const { sql, params } =
      compile(`<queryDef schema="nms:recipient"><select><node expr="@lastName + '!'" alias="@x"/><node expr="countall()" alias="@n"/></select>
      <groupBy><node expr="@lastName + '!'"/></groupBy><orderBy><node expr="@lastName + '!'"/></orderBy></queryDef>`);
    expect(sql).toBe(
      'SELECT "r0"."last_name" || $1::text AS "c0", count(*) AS "c1" FROM "nms_recipient" AS "r0" GROUP BY "r0"."last_name" || $1::text ORDER BY "r0"."last_name" || $1::text LIMIT $2',
    );
    expect(params).toEqual(['!', 200]);
  });
});

describe('compileQueryDef: refusals', () => {
  const custom = compileBuiltinSchemas([
    {
      file: 'cus-ticket.xml',
      text: `<srcSchema namespace="cus" name="ticket" placement="local"><element name="ticket" autopk="true">
        <attribute name="title" type="string"/><element name="recipient" type="link" target="nms:recipient"/></element></srcSchema>`,
    },
  ]);

  it.each([
    [`<queryDef schema="nms:nothing"><select><node expr="@id"/></select></queryDef>`, "XTK-170036 Unknown schema 'nms:nothing'"],
    [`<queryDef schema="xtk:session"><select><node expr="@id"/></select></queryDef>`, "XTK-170036 Schema 'xtk:session' has no table: it cannot be queried"],
    [`<queryDef schema="nms:recipient"/>`, `XTK-170036 queryDef on 'nms:recipient' selects nothing: add <select><node expr="…"/></select>`],
    [`<queryDef schema="nms:recipient"><select><node expr="@emial"/></select></queryDef>`, "XTK-170036 Unknown attribute '@emial' at position 1 of '@emial'"],
    [
      `<queryDef schema="nms:recipient"><select><node expr="@id"/></select><where><condition expr="Lower([fodler/@label]) = 'x'"/></where></queryDef>`,
      "XTK-170036 Unknown link 'fodler' at position 8 of 'Lower([fodler/@label]) = 'x''",
    ],
    [
      `<queryDef schema="nms:recipient"><select><node expr="[location/@town]"/></select></queryDef>`,
      "XTK-170036 Unknown attribute 'location/@town' at position 2 of '[location/@town]'",
    ],
    [
      `<queryDef schema="nms:recipient"><select><node expr="[folder/@nope]"/></select></queryDef>`,
      "XTK-170036 Unknown attribute '@nope' at position 9 of '[folder/@nope]'",
    ],
    [
      `<queryDef schema="nms:recipient"><select><node expr="subscription"/></select></queryDef>`,
      "XTK-170036 Unable to parse expression 'subscription': collection link 'subscription' can only be used alone in a condition (EXISTS) or in an aggregate such as Count([subscription/@id]) at position 1",
    ],
    [
      `<queryDef schema="nms:recipient"><select><node expr="@id"/></select><where><condition expr="[subscription/@created] &gt; #2024-01-01#"/></where></queryDef>`,
      "XTK-170036 Unable to parse expression '[subscription/@created] > #2024-01-01#': collection link 'subscription' can only be used alone in a condition (EXISTS) or in an aggregate at position 2",
    ],
    [
      `<queryDef schema="nms:recipient"><select><node expr="[folder]"/></select></queryDef>`,
      "XTK-170036 Unable to parse expression '[folder]': link 'folder' must be followed by an attribute, such as [folder/@id] at position 2",
    ],
    [
      `<queryDef schema="nms:recipient"><select><node expr="@id"/></select><where><condition expr="Count(@id) &gt; 1"/></where></queryDef>`,
      "XTK-170036 Unable to parse expression 'Count(@id) > 1': aggregate function 'Count' is not allowed in where (use having) at position 1",
    ],
    [
      `<queryDef schema="nms:recipient"><select><node expr="[../@id]"/></select></queryDef>`,
      "XTK-170036 Unable to parse expression '[../@id]': '..' refers to a parent query, but this is not a sub-query at position 2",
    ],
    [
      `<queryDef schema="nms:recipient"><select><node expr="@id"/></select><where><condition expr="@email"/></where></queryDef>`,
      "XTK-170036 Unable to parse expression '@email': a condition must be true or false, not a string value at position 1",
    ],
    [
      `<queryDef schema="nms:recipient"><select><node expr="Upper(@gender)"/></select></queryDef>`,
      "XTK-170036 Unable to parse expression 'Upper(@gender)': function 'Upper' needs a string, not a number value at position 7",
    ],
    [
      `<queryDef schema="nms:recipient"><select><node expr="@created + 1"/></select></queryDef>`,
      "XTK-170036 Unable to parse expression '@created + 1': '+' needs a number, not a datetime value at position 1",
    ],
    [
      `<queryDef schema="nms:recipient"><select><node expr="@id"/></select><where><condition expr="@id" setOperator="IN"/></where></queryDef>`,
      "XTK-170036 condition '@id': setOperator IN needs a <subQuery>",
    ],
    [
      `<queryDef schema="nms:recipient"><select><node expr="@id"/></select><where><condition expr="@email" setOperator="EXISTS"/></where></queryDef>`,
      "XTK-170036 Unable to parse expression '@email': '@email' is not a collection link at position 1",
    ],
    [
      `<queryDef schema="nms:recipient"><select><node expr="@id"/></select><where><condition expr="@id" setOperator="IN"><subQuery schema="nms:subscription"><select><node expr="@id"/><node expr="@created"/></select></subQuery></condition></where></queryDef>`,
      'XTK-170036 a subQuery used with IN must select exactly one <node>, not 2',
    ],
  ])('when the queryDef is %s, then it is refused with %j', (xml, message) => {
    expect(failure(xml).message).toBe(message);
  });

  it('when a filter on the country link carries SQL, then it is refused with an XTK fault or bound as a value, never spliced', () => {
    for (const expr of [
      "[country/@isoA3] = 'FRA'; DROP TABLE nms_country",
      "[country/@isoA3] = 'FRA' --",
      '[country/@label; DROP TABLE x] = 1',
      '[country/@nope] = 1',
      '[country/../@id] = 1',
    ]) {
      expect(failure({ schema: 'nms:recipient', select: { node: { expr: '@id' } }, where: { condition: { expr } } }).message).toMatch(/^XTK-170036 /);
    }
    const quoted = compileQueryDef(
      { schema: 'nms:recipient', select: { node: { expr: '@id' } }, where: { condition: { expr: "[country/@label] = 'x'' OR ''1''=''1'" } } },
      schemas,
    );
    expect(quoted.sql).toContain('WHERE "t0"."label" = $1');
    expect(quoted.params[0]).toBe("x' OR '1'='1");
  });

  it('when a name is unknown, then the error is an XtkExpressionError with the token and its position', () => {
    const err = failure(
      `<queryDef schema="nms:recipient"><select><node expr="@id"/></select><where><condition expr="@email = 'x' AND [folder/@labell] = 'y'"/></where></queryDef>`,
    );
    expect(err).toBeInstanceOf(XtkExpressionError);
    expect(err).toMatchObject({
      code: 'XTK-170036',
      kind: 'unknown-name',
      token: '@labell',
      position: 26,
      expression: "@email = 'x' AND [folder/@labell] = 'y'",
    });
  });

  it('when a query would bind more values than PostgreSQL accepts, then it is refused before reaching the database', () => {
    const expr = `@gender IN (${Array.from({ length: 70_000 }, () => '1').join(',')})`;
    const err = failure({ schema: 'nms:recipient', select: { node: { expr: '@id' } }, where: { condition: { expr } } }, { parse: { maxLength: 1_000_000 } });
    expect(err).toMatchObject({ message: 'XTK-170036 query has more than 65535 values', kind: 'limit' });
  });

  it('when the root schema has no table in the chosen database, then the query is refused', () => {
    expect(failure({ schema: 'nms:recipient', select: { node: { expr: '@id' } } }, { database: 'local' }).message).toBe(
      "XTK-170036 Schema 'nms:recipient' has no table in the local database (it is in: cloud); a query runs in one database",
    );
  });

  it('when a join or a sub-query reaches a schema of another database, then the query is refused', () => {
    expect(failure({ schema: 'cus:ticket', select: { node: { expr: '[recipient/@email]' } } }, undefined, custom).message).toBe(
      "XTK-170036 Schema 'nms:recipient' has no table in the local database (it is in: cloud); a query runs in one database (link 'recipient' of cus:ticket)",
    );
    const sub = {
      schema: 'nms:service',
      select: { node: { expr: '@name' } },
      where: { condition: { setOperator: 'EXISTS', subQuery: { schema: 'nms:subscription', where: { condition: { expr: '[@service-id] = [../@id]' } } } } },
    };
    expect(failure(sub).message).toBe(
      "XTK-170036 Schema 'nms:subscription' has no table in the local database (it is in: cloud); a query runs in one database (subQuery)",
    );
    expect(compileQueryDef(sub, schemas, { database: 'cloud' }).sql).toContain(
      'EXISTS (SELECT 1 FROM "nms_subscription" AS "r1" WHERE "r1"."service_id" = "r0"."id")',
    );
  });
});

describe('compileQueryDef: a deterministic order for paged selects without <orderBy>', () => {
  const sqlOf = (q: SimpleJsonQueryDef) => compileQueryDef(q, schemas, { database: 'cloud', orderPages: true }).sql;

  it('when a select pages (lineCount or startLine) without orderBy, then it is ordered by the primary key, so pages neither overlap nor skip rows', () => {
    const page = { schema: 'nms:recipient', select: { node: [{ expr: '@email' }, { expr: '[folder/@label]' }] } };
    expect(sqlOf({ ...page, lineCount: 10, startLine: 20 })).toMatch(/ ORDER BY "r0"."id" LIMIT \$1 OFFSET \$2$/);
    expect(sqlOf({ ...page, lineCount: 10 })).toMatch(/ ORDER BY "r0"."id" LIMIT \$1$/);
    expect(sqlOf({ ...page, startLine: 5 })).toMatch(/ ORDER BY "r0"."id" LIMIT \$1 OFFSET \$2$/);
  });

  it('when the select gives its own orderBy, or does not page, then no order is added', () => {
    const base = { schema: 'nms:recipient', select: { node: { expr: '@email' } } };
    expect(sqlOf({ ...base, lineCount: 10, orderBy: { node: { expr: '@email', sortDesc: true } } })).toMatch(/ ORDER BY "r0"."email" DESC LIMIT \$1$/);
    expect(sqlOf(base)).not.toContain('ORDER BY');
  });

  it('when the caller does not ask for ordered pages (internal bulk reads), then a lineCount adds no order', () => {
    expect(compileQueryDef({ schema: 'nms:recipient', lineCount: 10, select: { node: { expr: '@id' } } }, schemas, { database: 'cloud' }).sql).not.toContain(
      'ORDER BY',
    );
  });

  it('when a paged select groups, is DISTINCT, or only aggregates, then it is ordered by the groups, by every column, or not at all', () => {
    expect(sqlOf({ schema: 'nms:recipient', lineCount: 10, select: { node: [{ expr: '@lastName', groupBy: true }, { expr: 'count(@id)' }] } })).toMatch(
      / GROUP BY "r0"."last_name" ORDER BY "r0"."last_name" LIMIT \$1$/,
    );
    expect(sqlOf({ schema: 'nms:recipient', lineCount: 10, distinct: true, select: { node: [{ expr: '@lastName' }, { expr: '@firstName' }] } })).toMatch(
      / ORDER BY "c0", "c1" LIMIT \$1$/,
    );
    expect(sqlOf({ schema: 'nms:recipient', lineCount: 10, select: { node: { expr: 'count(@id)' } } })).not.toContain('ORDER BY');
  });
});

describe('compileQueryDef: keyset paging of paged selects whose order is total', () => {
  const compileKeyset = (q: SimpleJsonQueryDef, after?: (string | null)[]) =>
    compileQueryDef(q, schemas, { database: 'cloud', orderPages: true, keyset: after ? { after } : {} });
  const page = { schema: 'nms:recipient', lineCount: 100, select: { node: [{ expr: '@email' }, { expr: '[folder/@label]' }] } };

  it('when a paged select has no orderBy, then its primary-key order is returned as a text column, and a later page compiles to id > $n with LIMIT and no OFFSET', () => {
    const first = compileKeyset({ ...page, startLine: 0 });
    expect(first.keyset).toEqual({ keyCount: 1, applied: false });
    expect(first.sql).toMatch(/^SELECT "r0"."email" AS "c0", "\w+"."label" AS "c1", "r0"."id"::text AS "k0" FROM /);
    expect(first.sql).toMatch(/ ORDER BY "r0"."id" LIMIT \$1$/);

    const next = compileKeyset({ ...page, startLine: 100, where: { condition: { expr: "@email LIKE 'a%' OR @lastName = 'x'" } } }, ['p0000100']);
    expect(next.keyset).toEqual({ keyCount: 1, applied: true });
    expect(next.sql).toMatch(/ WHERE \("r0"."email" LIKE \$1 OR "r0"."last_name" = \$2\) AND "r0"."id" > \$3 ORDER BY "r0"."id" LIMIT \$4$/);
    expect(next.sql).not.toContain('OFFSET');
    expect(next.params).toEqual(['a%', 'x', 'p0000100', 100]);
  });

  it('when the order is descending on the primary key, then the next page is id < $n', () => {
    const q = { ...page, startLine: 100, orderBy: { node: { expr: '@id', sortDesc: true } } };
    const { sql, params } = compileKeyset(q, ['p9']);
    expect(sql).toMatch(/ WHERE "r0"."id" < \$1 ORDER BY "r0"."id" DESC LIMIT \$2$/);
    expect(params).toEqual(['p9', 100]);
  });

  it('when a composite order ends with the primary key, then nullable keys are compared in the expanded form with NULLs placed as PostgreSQL sorts them', () => {
    const q = { ...page, startLine: 100, orderBy: { node: [{ expr: '@lastName' }, { expr: '@id' }] } };
    const asc = compileKeyset(q, ['Smith', 'p7']);
    expect(asc.sql).toContain(
      ' WHERE ("r0"."last_name" > $1 OR "r0"."last_name" IS NULL) OR ("r0"."last_name" = $1 AND "r0"."id" > $2) ORDER BY "r0"."last_name", "r0"."id" LIMIT $3',
    );
    expect(asc.params).toEqual(['Smith', 'p7', 100]);
    // After a NULL last name (ascending: NULLs last) only the other NULL last names with a larger id remain.
    const ascNull = compileKeyset(q, [null, 'p7']);
    expect(ascNull.sql).toContain(' WHERE "r0"."last_name" IS NULL AND "r0"."id" > $1 ORDER BY');
    expect(ascNull.params).toEqual(['p7', 100]);

    const desc = compileKeyset({ ...q, orderBy: { node: [{ expr: '@lastName', sortDesc: true }, { expr: '@id' }] } }, ['Smith', 'p7']);
    expect(desc.sql).toContain(' WHERE "r0"."last_name" < $1 OR ("r0"."last_name" = $1 AND "r0"."id" > $2) ORDER BY "r0"."last_name" DESC, "r0"."id" LIMIT $3');
    // Descending: NULLs come first, so every non-NULL value follows a NULL.
    const descNull = compileKeyset({ ...q, orderBy: { node: [{ expr: '@lastName', sortDesc: true }, { expr: '@id' }] } }, [null, 'p7']);
    expect(descNull.sql).toContain(' WHERE "r0"."last_name" IS NOT NULL OR ("r0"."last_name" IS NULL AND "r0"."id" > $1) ORDER BY');
  });

  it('when the order covers a unique key of NOT NULL fields, then a row comparison is used, ordered by output aliases or not', () => {
    const q = {
      schema: 'nms:broadLogEvent',
      lineCount: 50,
      startLine: 50,
      select: { node: [{ expr: '@queue', alias: '@q' }, { expr: '@eventId' }] },
      orderBy: { node: [{ expr: '@q' }, { expr: '@eventId' }] },
    };
    const { sql, params, keyset } = compileKeyset(q, ['rt', '42']);
    expect(keyset).toEqual({ keyCount: 2, applied: true });
    expect(sql).toMatch(/"r0"."queue"::text AS "k0", "r0"."event_id"::text AS "k1" FROM /);
    expect(sql).toMatch(/ WHERE \("r0"."queue", "r0"."event_id"\) > \(\$1, \$2\) ORDER BY "c0", "r0"."event_id" LIMIT \$3$/);
    expect(params).toEqual(['rt', '42', 50]);
    const desc = compileKeyset(
      {
        ...q,
        orderBy: {
          node: [
            { expr: '@queue', sortDesc: true },
            { expr: '@eventId', sortDesc: true },
          ],
        },
      },
      ['rt', '42'],
    );
    expect(desc.sql).toMatch(/ WHERE \("r0"."queue", "r0"."event_id"\) < \(\$1, \$2\) ORDER BY/);
    const mixed = compileKeyset({ ...q, orderBy: { node: [{ expr: '@queue' }, { expr: '@eventId', sortDesc: true }] } }, ['rt', '42']);
    expect(mixed.sql).toContain(' WHERE "r0"."queue" > $1 OR ("r0"."queue" = $1 AND "r0"."event_id" < $2) ORDER BY');
  });

  it('when the order is not provably total, or the select groups, is DISTINCT, orders by an expression or a joined field, then it keeps OFFSET and returns no sort keys', () => {
    const offsetOnly = (q: SimpleJsonQueryDef) => {
      const c = compileKeyset({ ...page, startLine: 100, ...q }, ['x', 'y']);
      expect(c.keyset).toBeUndefined();
      expect(c.sql).toMatch(/ OFFSET \$\d+$/);
      expect(c.sql).not.toContain('::text AS "k');
    };
    offsetOnly({ orderBy: { node: { expr: '@lastName' } } });
    offsetOnly({ orderBy: { node: [{ expr: '@lastName' }, { expr: '@email' }] } });
    offsetOnly({ orderBy: { node: [{ expr: 'Lower(@email)' }, { expr: '@id' }] } });
    offsetOnly({ orderBy: { node: [{ expr: '[folder/@label]' }, { expr: '@id' }] } });
    offsetOnly({ distinct: true });
    offsetOnly({ select: { node: [{ expr: '@lastName', groupBy: true }, { expr: 'count(@id)' }] } });
    // A key whose fields may be NULL is not unique in PostgreSQL (nms:subscription's recipient and service).
    const sub = compileKeyset(
      {
        schema: 'nms:subscription',
        lineCount: 10,
        startLine: 10,
        select: { node: { expr: '@id' } },
        orderBy: { node: [{ expr: '@recipient-id' }, { expr: '@service-id' }] },
      },
      ['a', '1'],
    );
    expect(sub.keyset).toBeUndefined();
  });

  it('when the remembered keys do not match the order, or the page starts at 0, then no keyset condition is added', () => {
    expect(compileKeyset({ ...page, startLine: 100 }, ['a', 'b']).sql).toMatch(/ LIMIT \$1 OFFSET \$2$/);
    expect(compileKeyset({ ...page, startLine: 0 }, ['a']).sql).toMatch(/ ORDER BY "r0"."id" LIMIT \$1$/);
  });

  it('when the keyset option is absent (BuildQuery, local-store), then the SQL is unchanged', () => {
    const plain = compileQueryDef({ ...page, startLine: 100 }, schemas, { database: 'cloud', orderPages: true });
    expect(plain.keyset).toBeUndefined();
    expect(plain.sql).not.toContain('"k0"');
  });
});
