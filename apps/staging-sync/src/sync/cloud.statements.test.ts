import type { FoldedChange } from './change.fold';
import { deleteStatement, upsertStatement } from './cloud.statements';
import type { CloudTable } from './cloud.tables';

const table: CloudTable = {
  schema: 'nms:recipient',
  table: 'nms_recipient',
  casts: new Map([
    ['id', 'text'],
    ['email', 'text'],
    ['first_name', 'text'],
    ['created', 'timestamptz'],
    ['cap_seq', 'bigint'],
  ]),
  primaryKey: { column: 'id', uuid: true },
  insertOnly: new Set(['created']),
  hasSeq: true,
  columnOf: () => undefined,
};

const folded = (record: Record<string, unknown>, fields: string[], seq = 1n): FoldedChange => ({
  schema: 'nms:recipient',
  source: 'nms:recipientStg',
  keyColumns: ['email'],
  keyText: `email=${String(record['email'])}`,
  seq,
  op: 'upsert',
  fields,
  record,
  recordedAt: '2026-11-28T12:00:00Z',
});

describe('cloud statements', () => {
  it('when upserting by a non-primary key, then one statement updates matches (never created) and inserts the rest with a new UUID', () => {
    const s = upsertStatement(
      table,
      ['email'],
      ['email', 'first_name', 'created'],
      [folded({ email: 'a', first_name: 'A', created: '2026-01-01T00:00:00Z' }, ['email', 'first_name', 'created'], 7n)],
    );
    expect(s.sql).toContain(
      'UPDATE "nms_recipient" t SET "first_name" = s."first_name"::text, "cap_seq" = s."cap_seq"::bigint FROM s WHERE t."email" = s."email"::text',
    );
    expect(s.sql).not.toMatch(/SET[^)]*"created" =/);
    expect(s.sql).toContain('gen_random_uuid()::text');
    expect(s.params).toEqual([['a'], ['A'], ['2026-01-01T00:00:00Z'], ['7']]);
  });

  it('when upserting by the primary key, then one INSERT … ON CONFLICT updates existing rows (never their created) and inserts the others', () => {
    const byId = (id: string, name: string, seq: bigint): FoldedChange => ({
      ...folded({ id, first_name: name, created: '2026-01-01T00:00:00Z' }, ['id', 'first_name', 'created'], seq),
      keyColumns: ['id'],
      keyText: `id=${id}`,
    });
    const s = upsertStatement(table, ['id'], ['created', 'first_name', 'id'], [byId('r1', 'A', 3n), byId('r2', 'B', 4n)]);
    expect(s.sql).toBe(
      'INSERT INTO "nms_recipient" ("id", "created", "first_name", "cap_seq") SELECT s."id"::text, s."created"::timestamptz, s."first_name"::text, s."cap_seq"::bigint ' +
        'FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS s("id", "created", "first_name", "cap_seq") ' +
        'ON CONFLICT ("id") DO UPDATE SET "first_name" = EXCLUDED."first_name", "cap_seq" = EXCLUDED."cap_seq"',
    );
    expect(s.params).toEqual([
      ['r1', 'r2'],
      ['2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z'],
      ['A', 'B'],
      ['3', '4'],
    ]);
  });

  it('when a change names a column the cloud table does not have, then it is a poison change (non-retriable)', () => {
    expect(() => upsertStatement(table, ['email'], ['email', 'shoe_size'], [folded({ email: 'a', shoe_size: 44 }, ['email', 'shoe_size'])])).toThrow(
      expect.objectContaining({ code: 'XTK-170102', retriable: false }),
    );
  });

  it('when deleting, then all keys of a batch go in one statement with typed parameters', () => {
    const s = deleteStatement(table, ['email'], [folded({ email: 'a' }, ['email']), folded({ email: 'b' }, ['email'])]);
    expect(s.sql).toBe('DELETE FROM "nms_recipient" t USING unnest($1::text[]) AS s("email") WHERE t."email" = s."email"::text');
    expect(s.params).toEqual([['a', 'b']]);
  });
});
