import pg from 'pg';
import { startTestPlatform, uniqueId, type AppName, type ServiceProcess, type TestPlatform } from '@cap/platform-testing';
import { rawCall, rawLogon, unlimitedRateLimits, type RawSession } from './fixtures/raw-soap';

/** The gateway's default RPC deadline. */
const RPC_DEADLINE_MS = 3_000;
/** How long the RPC servers' consumer group waits for a member that died (libs/platform/kafka/src/rpc.server.ts). */
const RPC_SESSION_TIMEOUT_MS = 6_000;

interface CallRecord {
  kind: 'read' | 'write';
  service: 'local' | 'cloud';
  started: number;
  ended: number;
  ok: boolean;
  what: string;
}

/**
 * Rolling restarts of the services behind the gateway, under load: two local-store replicas, then two
 * cloud-executor replicas, each replaced in turn (a new one started, the oldest stopped: alternately SIGTERM and
 * SIGKILL) while clients read and write through the gateway. No acknowledged write is lost. A replica stopped with
 * SIGTERM hands its work over without a single failed call. After a SIGKILL, calls may fail only until the group
 * has evicted the dead member (its session timeout) plus one RPC deadline: a read in flight on the dead replica is
 * sent again elsewhere, but while the group waits for the eviction every member is held (kafkajs rebalances
 * eagerly) whenever another member joins — as the replacement does here, 1.5 s after the kill.
 */
describe('local-store and cloud-executor replicas replaced under load', () => {
  let platform: TestPlatform;
  const limits = unlimitedRateLimits();
  let session: RawSession;

  const call = (urn: string, method: string, inner: string) => rawCall(platform.gatewayUrl, session, urn, method, inner);

  beforeAll(async () => {
    const quiet = { LOG_LEVEL: 'warn' };
    platform = await startTestPlatform({
      envFor: { 'api-gateway': { RATE_LIMITS_FILE: limits.file, ...quiet }, 'local-store': quiet, 'cloud-executor': quiet },
    });
    session = await rawLogon(platform.gatewayUrl, 'admin', 'admin');
  });

  afterAll(async () => {
    await platform?.stop();
    limits.cleanup();
  });

  /** Runs the load while `churn` replaces replicas; returns every call made and the writes acknowledged. */
  const underLoad = async (churn: () => Promise<number[]>) => {
    const records: CallRecord[] = [];
    const acknowledged = { local: [] as string[], cloud: [] as string[] };
    let running = true;
    const timed = async (kind: CallRecord['kind'], service: CallRecord['service'], fn: () => Promise<unknown>) => {
      const started = Date.now();
      try {
        await fn();
        records.push({ kind, service, started, ended: Date.now(), ok: true, what: '' });
        return true;
      } catch (err) {
        records.push({ kind, service, started, ended: Date.now(), ok: false, what: (err as Error).message.slice(0, 240) });
        return false;
      }
    };
    const worker = async () => {
      while (running) {
        const name = uniqueId('svc');
        if (
          await timed('write', 'local', () => call('xtk:persist', 'Write', `<domDoc><service xtkschema="nms:service" name="${name}" label="churn"/></domDoc>`))
        )
          acknowledged.local.push(name);
        await timed('read', 'local', () => call('xtk:session', 'GetOption', '<name>XtkDatabaseId</name>'));
        const email = `${uniqueId('rcp')}@example.com`;
        if (await timed('write', 'cloud', () => call('xtk:persist', 'Write', `<domDoc><recipient xtkschema="nms:recipient" email="${email}"/></domDoc>`)))
          acknowledged.cloud.push(email);
        await timed('read', 'cloud', () =>
          call(
            'xtk:queryDef',
            'ExecuteQuery',
            `<entity><queryDef schema="nms:recipient" operation="count"><where><condition expr="@email = '${email}'"/></where></queryDef></entity>`,
          ),
        );
      }
    };
    const workers = Array.from({ length: 4 }, () => worker());
    let kills: number[];
    try {
      kills = await churn();
    } finally {
      running = false;
      await Promise.all(workers);
    }
    return { records, acknowledged, kills };
  };

  const events: { at: number; what: string }[] = [];
  const near = (t: number) =>
    events
      .filter((e) => Math.abs(e.at - t) < 15_000)
      .map((e) => `${e.what}@${t - e.at}`)
      .join(' ');
  /** Starts a replacement, waits until it is ready, then stops the oldest replica; returns the SIGKILL times. */
  const rollingRestarts = async (app: AppName, cycles: number): Promise<number[]> => {
    const live: ServiceProcess[] = [platform.procs.get(app)!];
    const second = await platform.startReplica(app);
    await second.waitUntilReady();
    live.push(second);
    const kills: number[] = [];
    for (let cycle = 0; cycle < cycles; cycle++) {
      await new Promise((r) => setTimeout(r, 1_500));
      events.push({ at: Date.now(), what: 'start' });
      const fresh = await platform.startReplica(app);
      await fresh.waitUntilReady(30_000);
      events.push({ at: Date.now(), what: 'ready' });
      live.push(fresh);
      const victim = live.shift()!;
      events.push({ at: Date.now(), what: cycle % 2 === 0 ? 'SIGTERM' : 'SIGKILL' });
      if (cycle % 2 === 0) victim.signal('SIGTERM');
      else {
        kills.push(Date.now());
        victim.signal('SIGKILL');
      }
      await victim.exited;
    }
    await new Promise((r) => setTimeout(r, 2_000));
    return kills;
  };

  const check = async ({ records, acknowledged, kills }: Awaited<ReturnType<typeof underLoad>>, label: string) => {
    const failures = records.filter((r) => !r.ok);
    // After a kill: until the eviction, then one deadline (and a second of rejoining).
    const window = RPC_SESSION_TIMEOUT_MS + RPC_DEADLINE_MS + 1_000;
    const unexplained = failures.filter((r) => !kills.some((k) => r.ended >= k && r.started <= k + window));
    const failedReads = failures.filter((r) => r.kind === 'read').length;
    console.info(
      `${label}: ${records.length} calls (${records.filter((r) => r.kind === 'read').length} reads), ${failures.length} failed (${failedReads} reads), ${kills.length} SIGKILLs; failures outside a kill's window: ${unexplained.length}`,
    );
    expect(unexplained.map((r) => `${r.kind} ${r.service} [${near(r.started)}] took ${r.ended - r.started}: ${r.what.slice(0, 90)}`)).toEqual([]);
    expect(records.filter((r) => r.ok).length).toBeGreaterThan(50);
    const local = new pg.Client({ connectionString: platform.localDb.url });
    const cloud = new pg.Client({ connectionString: platform.cloudDb.url });
    await Promise.all([local.connect(), cloud.connect()]);
    try {
      expect((await local.query('SELECT count(*)::int AS n FROM nms_service WHERE name = ANY($1)', [acknowledged.local])).rows[0].n).toBe(
        acknowledged.local.length,
      );
      expect((await cloud.query('SELECT count(*)::int AS n FROM nms_recipient WHERE email = ANY($1)', [acknowledged.cloud])).rows[0].n).toBe(
        acknowledged.cloud.length,
      );
    } finally {
      await Promise.all([local.end(), cloud.end()]);
    }
  };

  it("when local-store replicas are replaced in turn (SIGTERM and SIGKILL), then calls fail only in a killed replica's window and no acknowledged write is lost", async () => {
    await check(await underLoad(() => rollingRestarts('local-store', 4)), 'local-store churn');
  });

  it("when cloud-executor replicas are replaced in turn (SIGTERM and SIGKILL), then calls fail only in a killed replica's window and no acknowledged write is lost", async () => {
    await check(await underLoad(() => rollingRestarts('cloud-executor', 4)), 'cloud-executor churn');
  });
});
