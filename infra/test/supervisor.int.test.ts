/**
 * Issue 14, "Supervision": kill any one service with SIGKILL during `npm start` and it is back and ready
 * within 30 s, and the platform answers again. This runs npm start's own code (infra/scripts/services.mjs:
 * the same spawn, flags, environment, /readyz probe and supervisor with npm start's policy) on free ports,
 * against the real PostgreSQL, Kafka and Redis, with databases, topic prefix and Redis prefix of its own.
 * The data stores are prepared as npm start's bootstrap step does (infra/src/bootstrap.ts). Needs the
 * bundles: node infra/scripts/build-app.mjs all.
 */
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pg from 'pg';
import { ALL_TOPICS } from '@cap/contracts';
import { createMessaging, RETRY_PROFILES } from '@cap/platform-kafka';
import { createLogger } from '@cap/platform-logger';
import { openDatabase } from '@cap/platform-postgres';
import { createTestDatabase, freePort, sdkLogon, testEndpoints, uniqueId, waitFor, type TestDatabase } from '@cap/platform-testing';
import { SERVICES, startServices, type AppName, type PlatformService } from '../scripts/services.mjs';
import type { Supervisor } from '../scripts/supervisor.mjs';

const ROOT = join(__dirname, '..', '..');
const quiet = createLogger({ service: 'test', level: 'silent', destination: new Writable({ write: (_c, _e, cb) => cb() }) });

describe('npm start supervision: the four services on the real infrastructure', () => {
  const topicPrefix = `${uniqueId('sup')}.`;
  let localDb: TestDatabase;
  let cloudDb: TestDatabase;
  let cloud: pg.Pool;
  let services: PlatformService[];
  let supervisor: Supervisor;
  let logFile: WriteStream;
  /** The supervisor's own lines ("[infra] …"), without the prefix. */
  const supervisorLines: string[] = [];
  const gatewayUrl = () => `http://127.0.0.1:${services.find((s) => s.name === 'api-gateway')!.port}`;

  /** As the bootstrap step of npm start: migrated databases, every topic (with its .dlq twin). */
  async function prepareDataStores(): Promise<void> {
    const databases = [
      { database: 'local', url: localDb.url, migrationsDir: join(ROOT, 'apps', 'local-store', 'migrations') },
      { database: 'cloud', url: cloudDb.url, migrationsDir: join(ROOT, 'apps', 'cloud-executor', 'migrations') },
    ];
    for (const db of databases) await (await openDatabase({ ...db, poolMax: 1, applicationName: 'supervisor-test', logger: quiet })).end();
    const messaging = createMessaging({
      brokers: testEndpoints().kafkaBrokers,
      clientId: uniqueId('bootstrap'),
      topicPrefix,
      logger: quiet,
      retry: RETRY_PROFILES.fast,
    });
    try {
      await messaging.ensureTopics(ALL_TOPICS);
    } finally {
      await messaging.close();
    }
  }

  /** The gateway reaches local-store and cloud-executor (ping.jsp), and a staged record reaches the cloud through staging-sync. */
  async function expectPlatformAnswers(tag: string): Promise<void> {
    await waitFor(
      'ping.jsp OK through the gateway (local-store and cloud-executor answer)',
      async () => {
        const res = await fetch(`${gatewayUrl()}/nl/jsp/ping.jsp`, { signal: AbortSignal.timeout(5_000) });
        return res.status === 200 && (await res.text()).startsWith('OK\n');
      },
      { timeoutMs: 30_000, intervalMs: 250 },
    );
    const client = await sdkLogon(gatewayUrl(), 'admin', 'admin');
    const email = `${uniqueId(tag)}@example.com`;
    await client.NLWS.xtkSession.ingestExt({ xtkschema: 'nms:recipientStg', _key: '@email', email, firstName: tag });
    const row = await waitFor(
      `${email} in the cloud database`,
      async () => (await cloud.query<{ first_name: string }>('SELECT first_name FROM nms_recipient WHERE email = $1', [email])).rows[0],
      { timeoutMs: 30_000, intervalMs: 250 },
    );
    expect(row.first_name).toBe(tag);
  }

  beforeAll(async () => {
    [localDb, cloudDb] = await Promise.all([createTestDatabase('cap_local'), createTestDatabase('cap_cloud')]);
    cloud = new pg.Pool({ connectionString: cloudDb.url, max: 2 });
    await prepareDataStores();
    services = await Promise.all(SERVICES.map(async (s) => ({ ...s, port: await freePort() })));
    const logDir = join(ROOT, 'reports', 'service-logs');
    mkdirSync(logDir, { recursive: true });
    logFile = createWriteStream(join(logDir, `${topicPrefix}supervised.log`));
    const endpoints = testEndpoints();
    supervisor = startServices({
      services,
      env: {
        PATH: process.env['PATH'],
        LOG_LEVEL: 'info',
        KAFKA_RETRY_PROFILE: 'fast',
        KAFKA_BROKERS: endpoints.kafkaBrokers.join(','),
        KAFKA_TOPIC_PREFIX: topicPrefix,
        LOCAL_DATABASE_URL: localDb.url,
        CLOUD_DATABASE_URL: cloudDb.url,
        REDIS_URL: endpoints.redisUrl,
        REDIS_KEY_PREFIX: topicPrefix,
      },
      write: (text) => {
        logFile.write(text);
        // eslint-disable-next-line no-control-regex -- colours, when the tests run in a terminal
        const own = /^\[infra\] (.*)\n$/.exec(text.replace(/\x1b\[[0-9;]*m/g, ''));
        if (own?.[1]) supervisorLines.push(own[1]);
      },
    });
    const ready = await Promise.all(services.map(async (s) => [s.name, await supervisor.waitUntilReady(s.name, 60_000)]));
    expect(Object.fromEntries(ready)).toEqual({ 'local-store': true, 'cloud-executor': true, 'staging-sync': true, 'api-gateway': true });
  }, 90_000);

  afterAll(async () => {
    await supervisor?.stop();
    logFile?.end();
    await cloud?.end();
    await Promise.allSettled([localDb?.drop(), cloudDb?.drop()]);
  });

  it('when all four are started, then the platform answers and the supervisor has printed nothing', async () => {
    await expectPlatformAnswers('start');
    expect(supervisorLines).toEqual([]);
  });

  it.each<AppName>(['api-gateway', 'local-store', 'cloud-executor', 'staging-sync'])(
    'when %s is killed with SIGKILL, then it is back and ready within 30 s, one line says so, and the platform answers again',
    async (app) => {
      const killed = supervisor.status(app).pid!;
      const linesBefore = supervisorLines.length;
      const killedAt = Date.now();
      process.kill(killed, 'SIGKILL');

      const back = await waitFor(
        `${app} ready again in a new process`,
        () => {
          const status = supervisor.status(app);
          return status.ready && status.pid !== killed ? status : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 100 },
      );
      expect(Date.now() - killedAt).toBeLessThan(30_000);
      expect(back).toMatchObject({ attempt: 1, restarts: 1 });
      expect(supervisorLines.slice(linesBefore)).toEqual([
        expect.stringMatching(new RegExp(`^${app} exited \\(killed by SIGKILL\\) after [^;]+; restarting it in 1 s \\(attempt 1\\)$`)),
        expect.stringMatching(new RegExp(`^${app} is ready again \\(attempt 1, pid ${back.pid}\\), [\\d.]+ s after it exited$`)),
      ]);
      await expectPlatformAnswers(app);
    },
    70_000,
  );

  it('when the supervisor is stopped (Ctrl-C), then every service exits and none is restarted', async () => {
    const pids = services.map((s) => supervisor.status(s.name).pid!);
    const linesBefore = supervisorLines.length;
    await supervisor.stop();
    const alive = pids.filter((pid) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    });
    expect(alive).toEqual([]);
    expect(services.map((s) => supervisor.status(s.name))).toEqual(services.map(() => expect.objectContaining({ pid: undefined, restartPending: false })));
    expect(supervisorLines.slice(linesBefore)).toEqual([]);
  }, 30_000);
});
