import { ALL_TOPICS, TOPICS } from './index';

describe('topic catalogue', () => {
  it('when listing topics, then every name follows <domain>.<entity>.<event>.v<N> and is unique', () => {
    const names = ALL_TOPICS.map((t) => t.name);
    expect(new Set(names).size).toBe(names.length);
    for (const name of names) expect(name).toMatch(/^[a-z0-9-]+\.[a-z0-9-]+\.[a-z0-9-]+\.v\d+$/);
  });

  it('when a staging change is malformed, then its topic schema rejects it', () => {
    const ok = { schema: 'nms:recipient', key: 'k', seq: '12', op: 'upsert', record: { email: 'a@b.c' } };
    expect(TOPICS.stagingChanges.payload.safeParse(ok).success).toBe(true);
    expect(TOPICS.stagingChanges.payload.safeParse({ ...ok, seq: 'twelve' }).success).toBe(false);
    expect(TOPICS.stagingChanges.payload.safeParse({ ...ok, op: 'merge' }).success).toBe(false);
  });
});
