import { RecordOrderRouter, type RoutableChange } from './record-order.router';

const STG = 'nms:recipientStg';
let seq = 0;
function change(keyColumns: string[], record: Record<string, unknown>, source = STG): RoutableChange {
  const naturalKey = `nms:recipient|${keyColumns.map((c) => `${c}=${String(record[c])}`).join(',')}`;
  return { source, seq: String(++seq), schema: 'nms:recipient', keyColumns, record, naturalKey };
}
const routeOf = (d: ReturnType<RecordOrderRouter['route']>) => ('route' in d ? d.route : `hold:${d.hold}`);

describe('RecordOrderRouter', () => {
  const seeded = () => new RecordOrderRouter(new Map([['nms:recipient', [['id']]]]), 100);

  it('gives a change of a record nobody else is changing its own key', () => {
    const router = seeded();
    expect(router.route(change(['id'], { id: 'A', email: 'a@x' }))).toEqual({ route: 'nms:recipient|id=A', sticky: false });
    expect(router.route(change(['id'], { id: 'B', email: 'b@x' }))).toEqual({ route: 'nms:recipient|id=B', sticky: false });
  });

  it('sends an IngestExt by @email behind a live Ingest of the same record keyed by @id', () => {
    const router = seeded();
    router.route(change(['id'], { id: 'A', email: 'a@x', firstName: 'Ann' }));
    // The email key is learned from this very change; the live Ingest is indexed by it at once.
    expect(router.route(change(['email'], { email: 'a@x', lastName: 'Lee' }))).toEqual({ route: 'nms:recipient|id=A', sticky: true });
    // And the other way round: a later change by @id follows the same route.
    expect(routeOf(router.route(change(['id'], { id: 'A', email: 'a@x' })))).toBe('nms:recipient|id=A');
    // A different recipient is not dragged along.
    expect(routeOf(router.route(change(['email'], { email: 'other@x' })))).toBe('nms:recipient|email=other@x');
  });

  it('lets the record take its own key again once its live changes are applied', () => {
    const router = seeded();
    const first = change(['id'], { id: 'A', email: 'a@x' });
    router.route(first);
    const second = change(['email'], { email: 'a@x' });
    expect(routeOf(router.route(second))).toBe('nms:recipient|id=A');
    expect(router.release(STG, [first.seq])).toEqual([]);
    expect(router.release(STG, [second.seq])).toEqual([second.seq]); // it was sticky: its stored route can go
    expect(router.size).toBe(0);
    expect(routeOf(router.route(change(['email'], { email: 'a@x' })))).toBe('nms:recipient|email=a@x');
  });

  it('keeps a record on its route while any of its live changes is unapplied', () => {
    const router = seeded();
    const first = change(['id'], { id: 'A', email: 'a@x' });
    router.route(first);
    const behind = [1, 2, 3].map(() => change(['email'], { email: 'a@x' }));
    for (const c of behind) expect(routeOf(router.route(c))).toBe('nms:recipient|id=A');
    router.release(STG, [first.seq, behind[0]!.seq, behind[1]!.seq]);
    expect(routeOf(router.route(change(['email'], { email: 'a@x' })))).toBe('nms:recipient|id=A');
    router.release(STG, router.oldestLive(10).get(STG)!);
    expect(routeOf(router.route(change(['email'], { email: 'a@x' })))).toBe('nms:recipient|email=a@x');
  });

  it('holds a change that joins two live records on different routes, until one of them is applied', () => {
    const router = seeded();
    router.route(change(['email'], { email: 'a@x' }));
    const b = change(['id'], { id: 'B', email: 'b@x' });
    router.route(b);
    const joining = change(['id'], { id: 'B', email: 'a@x' }); // B takes the address a live change is using
    expect(router.route(joining)).toEqual({ hold: 'links' });
    router.release(STG, [b.seq]);
    expect(routeOf(router.route(joining))).toBe('nms:recipient|email=a@x');
  });

  it('keeps a held-then-retried change on one route and counts it once', () => {
    const router = seeded();
    const c = change(['id'], { id: 'A' });
    router.route(c);
    router.route(c); // the relay retries a round that failed
    expect(router.size).toBe(1);
    expect(router.oldestLive(10)).toEqual(new Map([[STG, [c.seq]]]));
  });

  it('links Subscribe requests (their own source) to the recipient changes of the same key', () => {
    const router = seeded();
    router.route(change(['id'], { id: 'A', email: 'a@x' }));
    expect(routeOf(router.route(change(['email'], { email: 'a@x' }, 'cap_subscription_request')))).toBe('nms:recipient|id=A');
  });

  it('holds new changes when too many are live, and ignores keys with no value', () => {
    const router = new RecordOrderRouter(new Map([['nms:recipient', [['id'], ['email']]]]), 2);
    router.route(change(['id'], { id: 'A', email: '' }));
    router.route(change(['id'], { id: 'B', email: null }));
    expect(router.route(change(['id'], { id: 'C' }))).toEqual({ hold: 'full' });
    expect(router.oldestLive(1).get(STG)).toHaveLength(1);
  });

  it('restores changes published before it started, with the route they travelled under', () => {
    const router = seeded();
    const restored = change(['email'], { email: 'a@x' });
    router.restore(restored, 'nms:recipient|id=A');
    expect(routeOf(router.route(change(['email'], { email: 'a@x' })))).toBe('nms:recipient|id=A');
    router.reset();
    expect(router.size).toBe(0);
  });
});
