import { Writable } from 'node:stream';
import { SERVICES, TOPICS } from '@cap/contracts';
import { createLogger } from '@cap/platform-logger';
import { createMessaging, RETRY_PROFILES, startRpcClient, type Messaging, type RpcClient } from '@cap/platform-kafka';
import {
  createTestDatabase,
  startServiceProcess,
  startTcpProxy,
  startTestBroker,
  testEndpoints,
  uniqueId,
  waitFor,
  withDb,
  type AppName,
  type ServiceProcess,
  type TcpProxy,
  type TestBroker,
  type TestDatabase,
} from '@cap/platform-testing';

const quiet = createLogger({ service: 'test', level: 'silent', destination: new Writable({ write: (_c, _e, cb) => cb() }) });

/**
 * The four services as separate OS processes against a real Kafka broker (the test's own, so it can be
 * stopped), real PostgreSQL (through a TCP proxy the test can cut) and real Redis (likewise).
 */
describe('platform stack: four service processes', () => {
  let broker: TestBroker;
  let localDb: TestDatabase;
  let cloudDb: TestDatabase;
  let localPgProxy: TcpProxy;
  let redisProxy: TcpProxy;
  let messaging: Messaging;
  let rpc: RpcClient;
  const procs = new Map<AppName, ServiceProcess>();
  const topicPrefix = `${uniqueId('stack')}.`;

  const readyStatus = async (app: AppName) => (await procs.get(app)!.readyz()).status;

  beforeAll(async () => {
    broker = await startTestBroker();
    [localDb, cloudDb] = await Promise.all([createTestDatabase('cap_local'), createTestDatabase('cap_cloud')]);
    const pgUrl = new URL(testEndpoints().postgresAdminUrl);
    const redisUrl = new URL(testEndpoints().redisUrl);
    localPgProxy = await startTcpProxy({ host: pgUrl.hostname, port: Number(pgUrl.port || 5432) });
    redisProxy = await startTcpProxy({ host: redisUrl.hostname, port: Number(redisUrl.port || 6379) });
    const common = { KAFKA_BROKERS: broker.brokers.join(','), KAFKA_TOPIC_PREFIX: topicPrefix };
    const viaProxy = new URL(localDb.url);
    viaProxy.port = String(localPgProxy.port);
    // Start the data services first so their topics exist; then the sync worker and the gateway.
    procs.set(
      'local-store',
      await startServiceProcess('local-store', { ...common, LOCAL_DATABASE_URL: viaProxy.toString(), SERVICE_INSTANCE_ID: 'local-store-t1' }),
    );
    procs.set('cloud-executor', await startServiceProcess('cloud-executor', { ...common, CLOUD_DATABASE_URL: cloudDb.url }));
    await Promise.all([procs.get('local-store')!.waitUntilReady(), procs.get('cloud-executor')!.waitUntilReady()]);
    procs.set('staging-sync', await startServiceProcess('staging-sync', { ...common, CLOUD_DATABASE_URL: cloudDb.url }));
    procs.set(
      'api-gateway',
      await startServiceProcess('api-gateway', { ...common, REDIS_URL: redisProxy.url('redis', '/0'), RPC_TIMEOUT_MS: '2000', BREAKER_VOLUME_THRESHOLD: '50' }),
    );
    await Promise.all([procs.get('staging-sync')!.waitUntilReady(), procs.get('api-gateway')!.waitUntilReady()]);

    messaging = createMessaging({ brokers: broker.brokers, clientId: uniqueId('probe'), topicPrefix, logger: quiet, retry: RETRY_PROFILES.fast });
    rpc = await startRpcClient(messaging, { instanceId: uniqueId('probe'), defaultTimeoutMs: 5_000 });
  });

  afterAll(async () => {
    await Promise.allSettled([...procs.values()].map((p) => p.stop()));
    await rpc?.stop().catch(() => undefined);
    await messaging?.close();
    await Promise.allSettled([localPgProxy?.stop(), redisProxy?.stop()]);
    broker?.dispose();
    await Promise.allSettled([localDb?.drop(), cloudDb?.drop()]);
  });

  it('when all four run, then each /readyz reports every real dependency ok and /metrics is Prometheus text', async () => {
    for (const [app, proc] of procs) {
      const { status, body } = await proc.readyz();
      expect({ app, status, state: body.status }).toEqual({ app, status: 200, state: 'ready' });
      expect(Object.values(body.checks).every((c) => c.status === 'ok')).toBe(true);
    }
    expect(Object.keys((await procs.get('api-gateway')!.readyz()).body.checks).sort()).toEqual(['kafka', 'redis', 'rpc-replies', 'schema-sources']);
    expect(Object.keys((await procs.get('local-store')!.readyz()).body.checks).sort()).toEqual([
      'kafka',
      'operator-states',
      'outbox-relay',
      'postgres',
      'rpc-consumer',
      'schema-sources',
      'staging-acks',
    ]);
    const metrics = await (await fetch(`${procs.get('api-gateway')!.url}/metrics`)).text();
    expect(metrics).toContain('process_resident_memory_bytes{service="api-gateway"}');
    expect(metrics).toContain('cap_breaker_state{breaker="rpc:local-store",service="api-gateway"} 0');
  });

  it('when the gateway is pinged, then it reaches local-store and cloud-executor by request/reply over Kafka', async () => {
    const res = await fetch(`${procs.get('api-gateway')!.url}/nl/jsp/ping.jsp`);
    const body = await res.text();
    expect({ status: res.status, body: res.status === 200 ? 'ok' : body }).toEqual({ status: 200, body: 'ok' });
    expect(res.headers.get('content-type')).toContain('text/plain');
    expect(body).toMatch(/^OK\n\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}Z\n$/);
    // And each service answers a direct request with its own identity and database.
    await expect(rpc.request({ service: SERVICES.localStore, topic: TOPICS.localStoreRequests }, 'system.ping', {})).resolves.toMatchObject({
      service: 'local-store',
      instance: 'local-store-t1',
      database: 'local',
    });
    await expect(rpc.request({ service: SERVICES.cloudExecutor, topic: TOPICS.cloudExecutorRequests }, 'system.ping', {})).resolves.toMatchObject({
      service: 'cloud-executor',
      database: 'cloud',
    });
  });

  it('when local-store loses PostgreSQL, then its /readyz turns not-ready naming postgres, and ready again when it returns', async () => {
    await localPgProxy.stop();
    const down = await waitFor('local-store not ready', async () => {
      const r = await procs.get('local-store')!.readyz();
      return r.status === 503 ? r.body : undefined;
    });
    expect(down.checks['postgres']?.status).toBe('failed');
    expect(down.checks['kafka']?.status).toBe('ok');
    await localPgProxy.start();
    await waitFor('local-store ready again', async () => (await readyStatus('local-store')) === 200);
  });

  it('when the gateway loses Redis, then its /readyz turns not-ready naming redis, and ready again when it returns', async () => {
    await redisProxy.stop();
    const down = await waitFor('gateway not ready', async () => {
      const r = await procs.get('api-gateway')!.readyz();
      return r.status === 503 ? r.body : undefined;
    });
    expect(down.checks['redis']?.status).toBe('failed');
    await redisProxy.start();
    await waitFor('gateway ready again', async () => (await readyStatus('api-gateway')) === 200, { timeoutMs: 30_000 });
  });

  it('when the Kafka broker stops, then every service turns not-ready naming kafka, and all recover when it restarts', async () => {
    broker.stop();
    for (const app of procs.keys()) {
      const body = await waitFor(`${app} not ready without Kafka`, async () => {
        const r = await procs.get(app)!.readyz();
        return r.status === 503 ? r.body : undefined;
      });
      expect({ app, kafka: body.checks['kafka']?.status }).toEqual({ app, kafka: 'failed' });
    }
    broker.start();
    for (const app of procs.keys()) {
      await waitFor(`${app} ready after Kafka returns`, async () => (await readyStatus(app)) === 200, { timeoutMs: 60_000 });
    }
    // Request/reply works again end to end.
    await waitFor('ping OK after the broker restart', async () => (await fetch(`${procs.get('api-gateway')!.url}/nl/jsp/ping.jsp`)).status === 200, {
      timeoutMs: 30_000,
    });
  });

  it('when local-store gets SIGTERM during a request, then it stops intake, turns not-ready, finishes and answers the request, and exits 0', async () => {
    const localStore = procs.get('local-store')!;
    const reply = rpc.request({ service: SERVICES.localStore, topic: TOPICS.localStoreRequests }, 'system.ping', { dbSleepMs: 1_500 }, { timeoutMs: 10_000 });
    // Wait until the request is really in flight: its statement is running in PostgreSQL.
    await withDb(testEndpoints().postgresAdminUrl, (admin) =>
      waitFor('the slow ping to be running in PostgreSQL', async () => {
        const { rows } = await admin.query("SELECT 1 FROM pg_stat_activity WHERE datname = $1 AND query LIKE 'SELECT pg_sleep%' AND state = 'active'", [
          localDb.name,
        ]);
        return rows.length > 0;
      }),
    );
    localStore.signal('SIGTERM');
    const during = await localStore.readyz();
    expect(during.status).toBe(503);
    expect(during.body.status).toBe('not-ready');
    await expect(reply).resolves.toMatchObject({ service: 'local-store', database: 'local' });
    await expect(localStore.exited).resolves.toEqual({ code: 0, signal: null });
    const events = localStore.logs.map((l) => l['event']);
    expect(events).toEqual(expect.arrayContaining(['service.shutdown.started', 'service.shutdown.completed']));
  });

  it('when local-store is gone, then the gateway answers ping with a clear error before its RPC deadline (well under 5 s)', async () => {
    const started = Date.now();
    const res = await fetch(`${procs.get('api-gateway')!.url}/nl/jsp/ping.jsp`);
    const elapsed = Date.now() - started;
    const body = await res.text();
    expect(res.status).toBe(503);
    expect(body).toMatch(/^Error\n/);
    expect(body).toContain('No reply from local-store');
    expect(elapsed).toBeLessThan(4_500);
  });

  it('when a SOAP call needs the stopped service, then the client gets a clear Server fault before its own 5 s timeout', async () => {
    const started = Date.now();
    const res = await fetch(`${procs.get('api-gateway')!.url}/nl/jsp/soaprouter.jsp`, {
      method: 'POST',
      headers: { 'content-type': 'text/xml', SOAPAction: 'xtk:session#Logon' },
      body: '<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/"><SOAP-ENV:Body><m:Logon xmlns:m="urn:xtk:session"><sessiontoken/><login>admin</login><password>admin</password></m:Logon></SOAP-ENV:Body></SOAP-ENV:Envelope>',
    });
    const text = await res.text();
    expect(res.status).toBe(200);
    expect(text).toContain('<faultcode>SOAP-ENV:Server</faultcode>');
    expect(text).toMatch(/CAP-100001|CAP-100101/);
    expect(Date.now() - started).toBeLessThan(4_500);
  });

  it('when local-store comes back, then the gateway reaches it again by itself', async () => {
    const viaProxy = new URL(localDb.url);
    viaProxy.port = String(localPgProxy.port);
    const again = await startServiceProcess('local-store', {
      KAFKA_BROKERS: broker.brokers.join(','),
      KAFKA_TOPIC_PREFIX: topicPrefix,
      LOCAL_DATABASE_URL: viaProxy.toString(),
    });
    procs.set('local-store', again);
    await again.waitUntilReady();
    // The breaker may be open: it lets a probe through after its reset timeout and closes on success.
    await waitFor('ping OK with local-store back', async () => (await fetch(`${procs.get('api-gateway')!.url}/nl/jsp/ping.jsp`)).status === 200, {
      timeoutMs: 30_000,
      intervalMs: 500,
    });
  });
});

describe('service configuration', () => {
  it('when the configuration is invalid, then the service exits 1 naming every bad key', async () => {
    const proc = await startServiceProcess('local-store', {
      HTTP_PORT: 'eighty',
      KAFKA_BROKERS: 'no-port',
      LOCAL_DATABASE_URL: 'mysql://x',
      LOG_LEVEL: 'loud',
    });
    const exit = await proc.exited;
    const output = proc.logs.map((l) => String(l['raw'] ?? JSON.stringify(l))).join('\n');
    expect(exit.code).toBe(1);
    for (const key of ['HTTP_PORT', 'KAFKA_BROKERS', 'LOCAL_DATABASE_URL', 'LOG_LEVEL']) expect(output).toContain(key);
  });
});
