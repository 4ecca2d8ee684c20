import { mergeInserts } from './write.group-commit';

describe('merging one-row INSERTs of a group commit', () => {
  it('when rows share one statement text, then each row gets its own parameters, numbered after the rows before it', () => {
    const sql = 'INSERT INTO "nms_recipient_stg" ("email", "cap_fields") VALUES ($1, $2::text[])';
    const merged = mergeInserts(sql, [
      ['a@x', '{email}'],
      ['b@x', '{email}'],
      ['c@x', '{email}'],
    ]);
    expect(merged.sql).toBe('INSERT INTO "nms_recipient_stg" ("email", "cap_fields") VALUES ($1, $2::text[]), ($3, $4::text[]), ($5, $6::text[])');
    expect(merged.params).toEqual(['a@x', '{email}', 'b@x', '{email}', 'c@x', '{email}']);
  });

  it('when a value is a sub-select on a bound key (a link), then the placeholder inside it is renumbered too', () => {
    const sql = 'INSERT INTO "t" ("a", "folder_id") VALUES ($1, (SELECT "id" FROM "xtk_folder" WHERE "name" = $2 LIMIT 1))';
    expect(
      mergeInserts(sql, [
        ['x', 'f1'],
        ['y', 'f2'],
      ]).sql,
    ).toBe(
      'INSERT INTO "t" ("a", "folder_id") VALUES ($1, (SELECT "id" FROM "xtk_folder" WHERE "name" = $2 LIMIT 1)), ($3, (SELECT "id" FROM "xtk_folder" WHERE "name" = $4 LIMIT 1))',
    );
  });

  it('when the statement is not a plain one-row INSERT, then it is refused rather than rewritten', () => {
    expect(() => mergeInserts('UPDATE "t" SET "a" = $1', [['x']])).toThrow(/one-row INSERT/);
    expect(() => mergeInserts(`INSERT INTO "t" ("a") VALUES ('literal')`, [[]])).toThrow(/one-row INSERT/);
  });
});
