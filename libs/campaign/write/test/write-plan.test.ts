import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compileSchemas } from '@cap/campaign-schema';
import { parseXml } from '@cap/campaign-xml';
import { compileWritePlan, planWrite, WriteError, type PlanOptions, type WriteMode } from '../src/index';

const BUILTIN = join(__dirname, '..', '..', 'schema', 'builtin');
const schemas = compileSchemas(readdirSync(BUILTIN).map((file) => ({ file, text: readFileSync(join(BUILTIN, file), 'utf8') })));
const NOW = new Date('2026-01-02T03:04:05.678Z');

function plan(xml: string, mode: WriteMode = 'write', extra: Partial<PlanOptions> = {}) {
  let n = 0;
  return planWrite(parseXml(xml), schemas, { mode, now: NOW, newId: () => `uuid-${++n}`, ...extra });
}
const steps = (xml: string, mode: WriteMode = 'write') => compileWritePlan(plan(xml, mode));
function writeError(fn: () => unknown): WriteError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(WriteError);
    return err as WriteError;
  }
  throw new Error('expected a WriteError');
}

describe('Write reconciliation', () => {
  it('when a record has no _operation, then it is insertOrUpdate on the first key it fills, with server-set dates', () => {
    expect(steps('<option xtkschema="xtk:option" name="NmsX" stringValue="v" dataType="6" created="1999-01-01"/>')).toEqual([
      {
        kind: 'updateElseInsert',
        schema: 'xtk:option',
        update: {
          sql: 'UPDATE "xtk_option" SET "string_value" = $1, "data_type" = $2, "last_modified" = $3 WHERE "name" = $4',
          params: ['v', 6, NOW, 'NmsX'],
        },
        insert: {
          sql: 'INSERT INTO "xtk_option" ("name", "string_value", "data_type", "created", "last_modified") VALUES ($1, $2, $3, $4, $5)',
          params: ['NmsX', 'v', 6, NOW, NOW],
        },
      },
    ]);
  });

  it('when _operation="insert" on a cloud schema, then a UUID id is generated and nothing is reconciled', () => {
    const [p] = plan('<recipient xtkschema="nms:recipient" email="a@x.com" _operation="insert" gender="female"/>');
    expect(p!.generatedId).toBe('uuid-1');
    expect(compileWritePlan([p!])).toEqual([
      {
        kind: 'exec',
        schema: 'nms:recipient',
        statement: {
          sql: 'INSERT INTO "nms_recipient" ("email", "gender", "id", "created", "last_modified") VALUES ($1, $2, $3, $4, $5)',
          params: ['a@x.com', 2, 'uuid-1', NOW, NOW],
        },
      },
    ]);
  });

  it('when _key names fields, then update matches on them and leaves the key columns untouched', () => {
    expect(
      steps('<recipient xtkschema="nms:recipient" _key="@email" _operation="update" email="a@x.com" firstName="Ann"><location city="Paris"/></recipient>'),
    ).toEqual([
      {
        kind: 'exec',
        schema: 'nms:recipient',
        statement: {
          sql: 'UPDATE "nms_recipient" SET "first_name" = $1, "location_city" = $2, "last_modified" = $3 WHERE "email" = $4',
          params: ['Ann', 'Paris', NOW, 'a@x.com'],
        },
      },
    ]);
  });

  it('when _operation="delete", then only the key is used', () => {
    expect(steps('<recipient xtkschema="nms:recipient" _key="@email" _operation="delete" email="a@x.com"/>')).toEqual([
      { kind: 'exec', schema: 'nms:recipient', statement: { sql: 'DELETE FROM "nms_recipient" WHERE "email" = $1', params: ['a@x.com'] } },
    ]);
  });

  it('when a link is given as a sub-element with _operation="none", then the target must exist and its key sets the foreign key', () => {
    const result = steps('<service xtkschema="nms:service" name="news" label="News"><folder name="nmsRootService" _operation="none"/></service>');
    expect(result[0]).toEqual({
      kind: 'exec',
      schema: 'xtk:folder',
      statement: { sql: 'SELECT 1 FROM "xtk_folder" WHERE "name" = $1 LIMIT 1', params: ['nmsRootService'] },
      requireRow: expect.stringMatching(/^XTK-170108 No xtk:folder matches @name='nmsRootService'/),
    });
    expect(result[1]).toMatchObject({
      kind: 'updateElseInsert',
      update: {
        sql: 'UPDATE "nms_service" SET "label" = $1, "last_modified" = $2, "folder_id" = (SELECT "id" FROM "xtk_folder" WHERE "name" = $3 LIMIT 1) WHERE "name" = $4',
        params: ['News', NOW, 'nmsRootService', 'news'],
      },
    });
  });

  it('when WriteCollection gets an X-collection root, then each child is a record inheriting xtkschema', () => {
    const records = plan(
      '<recipient-collection xtkschema="nms:recipient"><recipient _key="@email" email="a@x.com"/><recipient _key="@email" email="b@x.com" _operation="delete"/></recipient-collection>',
      'writeCollection',
    );
    expect(records.map((r) => [r.operation, r.key.map((k) => k.value)])).toEqual([
      ['insertOrUpdate', ['a@x.com']],
      ['delete', ['b@x.com']],
    ]);
  });

  it('when a record without _operation fills no key (create().save()), then it is inserted with a new id', () => {
    const [p] = plan('<recipient xtkschema="nms:recipient" email="dee@x.com" lastName="Dee"/>');
    expect(p!.operation).toBe('insert');
    expect(p!.generatedId).toBe('uuid-1');
  });

  it('when an enumerated value is given by name, then its value is stored', () => {
    const [p] = plan('<recipient xtkschema="nms:recipient" _key="@email" email="a@x.com" gender="male" emailFormat="html"/>');
    expect(p!.values.filter((v) => ['@gender', '@emailFormat'].includes(v.field.xpath)).map((v) => v.value)).toEqual([1, 2]);
  });
});

describe('Ingest and IngestExt', () => {
  it('when Ingest gets a record without a key, then it appends an upsert version with a generated UUID to the staging table', () => {
    const records = plan('<recipientStg xtkschema="nms:recipientStg" email="a@x.com" firstName="Ann"/>', 'ingest');
    expect(records[0]!.generatedId).toBe('uuid-1');
    expect(compileWritePlan(records)).toEqual([
      {
        kind: 'exec',
        schema: 'nms:recipientStg',
        statement: {
          sql: 'INSERT INTO "nms_recipient_stg" ("email", "first_name", "id", "created", "last_modified", "cap_op", "cap_fields", "cap_key") VALUES ($1, $2, $3, $4, $5, $6, $7::text[], $8::text[])',
          params: ['a@x.com', 'Ann', 'uuid-1', NOW, NOW, 'upsert', '{email,first_name,id,created,last_modified}', '{id}'],
        },
      },
    ]);
  });

  it('when Ingest gets _key="@id" with an id, then that id is used and none is generated', () => {
    const [p] = plan('<recipientStg xtkschema="nms:recipientStg" _key="@id" id="ABC12345" email="a@x.com"/>', 'ingest');
    expect(p!.generatedId).toBeUndefined();
    expect(p!.values.find((v) => v.field.xpath === '@id')!.value).toBe('ABC12345');
  });

  it('when IngestExt deletes, then only the key travels with cap_op=delete', () => {
    expect(steps('<recipientStg xtkschema="nms:recipientStg" _key="@email" _operation="delete" email="a@x.com"/>', 'ingestExt')).toEqual([
      {
        kind: 'exec',
        schema: 'nms:recipientStg',
        statement: {
          sql: 'INSERT INTO "nms_recipient_stg" ("email", "cap_op", "cap_fields", "cap_key") VALUES ($1, $2, $3::text[], $4::text[])',
          params: ['a@x.com', 'delete', '{email}', '{email}'],
        },
      },
    ]);
  });
});

describe('bad write documents', () => {
  it.each([
    ['no xtkschema', '<doc email="a"/>', 'write', /^XTK-170100 .*add xtkschema/],
    ['an unknown schema', '<thing xtkschema="cus:thing"/>', 'write', /^XTK-170101 Unknown schema 'cus:thing'/],
    [
      'an unknown attribute',
      '<recipient xtkschema="nms:recipient" _key="@email" email="a" shoeSize="44"/>',
      'write',
      /^XTK-170102 Unknown attribute '@shoeSize' in schema nms:recipient/,
    ],
    [
      'a value of the wrong type',
      '<option xtkschema="xtk:option" name="x" longValue="twelve"/>',
      'write',
      /^XTK-170103 Invalid value 'twelve' for @longValue of xtk:option: expected an integer/,
    ],
    ['a too long string', `<option xtkschema="xtk:option" name="${'n'.repeat(65)}"/>`, 'write', /^XTK-170109 Value of @name of xtk:option is longer than 64/],
    [
      'no usable key for an update',
      '<recipient xtkschema="nms:recipient" _operation="update" firstName="A"/>',
      'write',
      /^XTK-170104 No key to reconcile <recipient> of nms:recipient/,
    ],
    [
      'an unknown _operation',
      '<recipient xtkschema="nms:recipient" _key="@email" email="a" _operation="merge"/>',
      'write',
      /^XTK-170105 Unknown _operation 'merge'/,
    ],
    [
      'Ingest on a schema that is not staged',
      '<recipient xtkschema="nms:recipient" email="a"/>',
      'ingest',
      /^XTK-170106 Ingest only writes staging schemas; nms:recipient is not one \(write to its staging schema nms:recipientStg\)/,
    ],
    [
      'IngestExt without a usable key',
      '<recipientStg xtkschema="nms:recipientStg" firstName="A"/>',
      'ingestExt',
      /^XTK-170104 No key to reconcile .* in IngestExt/,
    ],
    ['Write on a staging schema', '<recipientStg xtkschema="nms:recipientStg" email="a"/>', 'write', /^XTK-170107 nms:recipientStg is a staging schema/],
    [
      'a bad date',
      '<recipient xtkschema="nms:recipient" _key="@email" email="a" birthDate="31/12/2000"/>',
      'write',
      /^XTK-170103 Invalid value '31\/12\/2000' for @birthDate/,
    ],
  ])('when the document has %s, then a clear fault names the schema and attribute', (_label, xml, mode, expected) => {
    expect(writeError(() => compileWritePlan(plan(xml, mode as WriteMode))).message).toMatch(expected);
  });

  it('when the caller sends created/lastModified, then the server values win', () => {
    const [p] = plan('<option xtkschema="xtk:option" name="x" lastModified="1999-01-01 00:00:00.000Z"/>');
    expect(p!.values.find((v) => v.field.xpath === '@lastModified')).toBeUndefined();
    expect(p!.onWrite.find((v) => v.field.xpath === '@lastModified')!.value).toBe(NOW);
  });
});

describe('insertOrUpdate on a UUID-keyed schema reconciled by another key', () => {
  it('when no row matches _key="@email", then the insert gets a new id while the update never touches the id', () => {
    const [step] = compileWritePlan(
      planWrite(parseXml('<recipient xtkschema="nms:recipient" _key="@email" email="new@x.com" firstName="New"/>'), schemas, {
        mode: 'write',
        now: NOW,
        newId: () => 'uuid-9',
      }),
    );
    expect(step).toMatchObject({ kind: 'updateElseInsert' });
    const s = step as Extract<typeof step, { kind: 'updateElseInsert' }>;
    expect(s.insert.sql).toContain('"id"');
    expect(s.insert.params).toContain('uuid-9');
    expect(s.update.sql).not.toContain('"id" =');
  });
});

describe('empty keys (hostile input: a blank key must never reach the database or the staging pipeline)', () => {
  it.each([
    ['an empty _key', '<recipientStg xtkschema="nms:recipientStg" _key="" email="a@x.com"/>', 'ingestExt'],
    ['a blank _key', '<recipientStg xtkschema="nms:recipientStg" _key=" " email="a@x.com"/>', 'ingestExt'],
    ['a _key of commas only', '<recipientStg xtkschema="nms:recipientStg" _key="," email="a@x.com"/>', 'ingestExt'],
    ['a _key with an empty entry', '<recipient xtkschema="nms:recipient" _key="@email," email="a@x.com"/>', 'write'],
    ['a _key whose value is empty', '<recipient xtkschema="nms:recipient" _key="@email" email=""/>', 'write'],
    ['a _key whose value is blank', '<recipientStg xtkschema="nms:recipientStg" _key="@email" email="  "/>', 'ingestExt'],
  ])('when a record has %s, then it is refused with XTK-170104', (_label, xml, mode) => {
    expect(writeError(() => compileWritePlan(plan(xml, mode as WriteMode))).code).toBe('XTK-170104');
  });

  it.each([
    ['inserted', '<service xtkschema="nms:service" name="" label="x" _operation="insert"/>'],
    ['inserted or updated', '<service xtkschema="nms:service" name="" label="x"/>'],
    ['blank', '<service xtkschema="nms:service" name="   " label="x"/>'],
    ['updated to empty', '<service xtkschema="nms:service" _key="@id" id="12" name="" _operation="update"/>'],
  ])('when a key field is %s with an empty value, then the record is refused with XTK-170104', (_label, xml) => {
    expect(writeError(() => compileWritePlan(plan(xml))).message).toMatch(/^XTK-170104 .*@name.*nms:service.*empty/);
  });

  it('when a key field has a value, then it is planned as before', () => {
    expect(compileWritePlan(plan('<service xtkschema="nms:service" name="news" label="x"/>'))).toHaveLength(1);
  });
});
