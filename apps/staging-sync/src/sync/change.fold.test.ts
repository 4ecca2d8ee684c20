import type { RecordChange } from '@cap/contracts';
import { foldChanges, keyTextOf, watermarkId } from './change.fold';

const change = (seq: number, op: 'upsert' | 'delete', record: Record<string, unknown>, fields?: string[]): RecordChange => ({
  kind: 'record',
  schema: 'nms:recipient',
  source: 'nms:recipientStg',
  seq: String(seq),
  op,
  keyColumns: ['email'],
  ...(fields ? { fields } : {}),
  record,
  recordedAt: '2026-11-28T12:00:00Z',
});

describe('folding a batch per key (last writer wins, field by field)', () => {
  it('when partial updates of one key follow each other, then each field keeps its latest value and none is lost', () => {
    const { folded } = foldChanges(
      [
        change(1, 'upsert', { email: 'a', first_name: 'A', last_name: 'X' }, ['email', 'first_name', 'last_name']),
        change(2, 'upsert', { email: 'a', last_name: 'Y' }, ['email', 'last_name']),
      ],
      new Map(),
    );
    expect(folded).toHaveLength(1);
    expect(folded[0]).toMatchObject({ op: 'upsert', seq: 2n, record: { email: 'a', first_name: 'A', last_name: 'Y' } });
    expect(folded[0]!.fields.sort()).toEqual(['email', 'first_name', 'last_name']);
  });

  it('when changes arrive out of order, then they are applied in sequence order', () => {
    const { folded } = foldChanges(
      [
        change(5, 'upsert', { email: 'a', first_name: 'new' }, ['email', 'first_name']),
        change(3, 'upsert', { email: 'a', first_name: 'old' }, ['email', 'first_name']),
      ],
      new Map(),
    );
    expect(folded[0]).toMatchObject({ seq: 5n, record: { first_name: 'new' } });
  });

  it('when a key was already applied up to a sequence, then older and equal changes are dropped as stale', () => {
    const key = keyTextOf(['email'], { email: 'a' });
    const { folded, stale } = foldChanges(
      [
        change(3, 'upsert', { email: 'a', first_name: 'old' }, ['email', 'first_name']),
        change(4, 'upsert', { email: 'a', first_name: 'seen' }, ['email', 'first_name']),
      ],
      new Map([[watermarkId('nms:recipientStg', key), 4n]]),
    );
    expect(folded).toEqual([]);
    expect(stale).toBe(2);
  });

  it('when a delete follows an upsert, then the key is deleted; when an upsert follows a delete, then the row is re-created with the later fields only', () => {
    const deleted = foldChanges([change(1, 'upsert', { email: 'a', first_name: 'A' }, ['email', 'first_name']), change(2, 'delete', { email: 'a' })], new Map())
      .folded[0]!;
    expect(deleted).toMatchObject({ op: 'delete', fields: ['email'], record: { email: 'a' } });
    const recreated = foldChanges(
      [
        change(1, 'upsert', { email: 'a', first_name: 'A' }, ['email', 'first_name']),
        change(2, 'delete', { email: 'a' }),
        change(3, 'upsert', { email: 'a', last_name: 'L' }, ['email', 'last_name']),
      ],
      new Map(),
    ).folded[0]!;
    expect(recreated).toMatchObject({ op: 'replace', seq: 3n, record: { email: 'a', last_name: 'L' } });
    expect(recreated.record).not.toHaveProperty('first_name');
  });

  it('when a replicated change carries no field list, then every column of its record is written', () => {
    const { folded } = foldChanges([{ ...change(9, 'upsert', { id: 7, name: 'svc', label: 'L' }), keyColumns: ['id'] }], new Map());
    expect(folded[0]!.fields.sort()).toEqual(['id', 'label', 'name']);
  });
});
