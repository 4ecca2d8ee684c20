import { ALL_TOPICS, TOPICS } from './index';

describe('topic catalogue', () => {
  it('when listing topics, then every name follows <domain>.<entity>.<event>.v<N> and is unique', () => {
    const names = ALL_TOPICS.map((t) => t.name);
    expect(new Set(names).size).toBe(names.length);
    for (const name of names) expect(name).toMatch(/^[a-z0-9-]+\.[a-z0-9-]+\.[a-z0-9-]+\.v\d+$/);
  });

  it('when a staging change is malformed, then its topic schema rejects it', () => {
    const ok = {
      kind: 'record',
      schema: 'nms:recipient',
      source: 'nms:recipientStg',
      keyColumns: ['email'],
      seq: '12',
      op: 'upsert',
      record: { email: 'a@b.c' },
      recordedAt: '2026-11-28T12:00:00Z',
    };
    expect(TOPICS.stagingChanges.payload.safeParse(ok).success).toBe(true);
    expect(TOPICS.stagingChanges.payload.safeParse({ ...ok, seq: 'twelve' }).success).toBe(false);
    expect(TOPICS.stagingChanges.payload.safeParse({ ...ok, op: 'merge' }).success).toBe(false);
    expect(TOPICS.stagingChanges.payload.safeParse({ ...ok, keyColumns: [] }).success).toBe(false);
    expect(TOPICS.stagingChanges.payload.safeParse({ ...ok, keyColumns: ['email; drop table x'] }).success).toBe(false);
  });

  it('when a subscription change names no recipient key, then it is rejected', () => {
    const ok = {
      kind: 'subscription',
      schema: 'nms:subscription',
      source: 'cap_subscription_request',
      seq: '3',
      action: 'subscribe',
      services: ['newsletter'],
      create: true,
      recipient: { keyColumns: ['email'], fields: ['email'], record: { email: 'a@b.c' } },
      recordedAt: '2026-11-28T12:00:00Z',
    };
    expect(TOPICS.stagingChanges.payload.safeParse(ok).success).toBe(true);
    expect(TOPICS.stagingChanges.payload.safeParse({ ...ok, recipient: { ...ok.recipient, keyColumns: [] } }).success).toBe(false);
  });

  it('when a workflow state change names a state outside xtk:workflow:state or a non-numeric id, then its topic schema rejects it', () => {
    const ok = { workflowId: '12', internalName: 'WKF1', state: 11, failed: false, status: 'Started', version: '3', changedAt: '2026-11-28T12:00:00Z' };
    expect(TOPICS.workflowStateChanged.payload.safeParse(ok).success).toBe(true);
    expect(TOPICS.workflowStateChanged.payload.safeParse({ ...ok, state: 12 }).success).toBe(false);
    expect(TOPICS.workflowStateChanged.payload.safeParse({ ...ok, workflowId: 'WKF1' }).success).toBe(false);
  });
});
