import { createTestDatabase, type TestDatabase } from './test.database';
import { startServiceProcess, type AppName, type ServiceProcess } from './service.process';
import { testEndpoints } from './test.endpoints';
import { uniqueId } from './test.ids';

export interface TestPlatform {
  /** Base URL of the gateway (when started). */
  gatewayUrl: string;
  topicPrefix: string;
  localDb: TestDatabase;
  cloudDb: TestDatabase;
  procs: Map<AppName, ServiceProcess>;
  /**
   * Starts a new process of `app` with the platform's environment (a new instance id), in place of the one in
   * `procs` (a test that killed it: the replacement is stopped with the platform, and so is the one replaced if it
   * still runs), and waits until it is ready.
   */
  replace(app: AppName): Promise<ServiceProcess>;
  /**
   * Starts one more replica of `app` beside those running (the platform's environment, a new instance id,
   * `env` on top), without waiting for it to be ready; it is stopped with the platform if still running.
   */
  startReplica(app: AppName, env?: Record<string, string>): Promise<ServiceProcess>;
  stop(): Promise<void>;
}

export interface TestPlatformOptions {
  apps?: AppName[];
  /** Extra environment for every service. */
  env?: Record<string, string>;
  /** Extra environment per service. */
  envFor?: Partial<Record<AppName, Record<string, string>>>;
  /** The checkout whose dist/ holds the bundles to run (default: this repository). */
  root?: string;
}

/**
 * The platform as separate OS processes on the real infrastructure, isolated for one test file: its own
 * local and cloud databases, its own Kafka topic and consumer-group prefix, its own Redis key prefix, the
 * development seed (admin/admin, mc/mc…). Stop it in afterAll.
 */
export async function startTestPlatform(options: TestPlatformOptions = {}): Promise<TestPlatform> {
  const apps = options.apps ?? ['local-store', 'cloud-executor', 'api-gateway'];
  const topicPrefix = `${uniqueId('t')}.`;
  const [localDb, cloudDb] = await Promise.all([createTestDatabase('cap_local'), createTestDatabase('cap_cloud')]);
  const endpoints = testEndpoints();
  const common: Record<string, string> = {
    KAFKA_BROKERS: endpoints.kafkaBrokers.join(','),
    KAFKA_TOPIC_PREFIX: topicPrefix,
    LOCAL_DATABASE_URL: localDb.url,
    CLOUD_DATABASE_URL: cloudDb.url,
    REDIS_URL: endpoints.redisUrl,
    REDIS_KEY_PREFIX: `${topicPrefix}`,
    ...options.env,
  };
  const procs = new Map<AppName, ServiceProcess>();
  const replicas: ServiceProcess[] = [];
  const start = async (app: AppName, extra: Record<string, string> = {}) => {
    const proc = await startServiceProcess(app, { ...common, ...extra, ...options.envFor?.[app] }, options.root ? { root: options.root } : {});
    procs.set(app, proc);
    return proc;
  };
  const stop = async () => {
    await Promise.allSettled([...procs.values(), ...replicas].map((p) => p.stop()));
    await Promise.allSettled([localDb.drop(), cloudDb.drop(), deleteTopics(topicPrefix)]);
  };
  try {
    // Data services first: they create the topics and the schema tables.
    const data = apps.filter((a) => a === 'local-store' || a === 'cloud-executor');
    await Promise.all(data.map(async (a) => (await start(a, a === 'local-store' ? { DEV_SEED: 'true' } : {})).waitUntilReady()));
    const rest = apps.filter((a) => a !== 'local-store' && a !== 'cloud-executor');
    await Promise.all(rest.map(async (a) => (await start(a)).waitUntilReady()));
  } catch (err) {
    await stop();
    throw err;
  }
  const replace = async (app: AppName) => {
    // The one replaced is still stopped with the platform when the test left it running: no orphan process.
    const previous = procs.get(app);
    if (previous) replicas.push(previous);
    const proc = await start(app, { SERVICE_INSTANCE_ID: uniqueId(app) });
    await proc.waitUntilReady();
    return proc;
  };
  const startReplica = async (app: AppName, env: Record<string, string> = {}) => {
    const proc = await startServiceProcess(
      app,
      { ...common, ...options.envFor?.[app], SERVICE_INSTANCE_ID: uniqueId(app), ...env },
      options.root ? { root: options.root } : {},
    );
    replicas.push(proc);
    return proc;
  };
  return { gatewayUrl: procs.get('api-gateway')?.url ?? '', topicPrefix, localDb, cloudDb, procs, replace, startReplica, stop };
}

/**
 * Deletes the topics of one test platform once its services are stopped: a broker that kept every test's topics
 * (about 160 partitions a platform, each with its open files) runs out of file descriptors over a suite. The
 * deleting function is installed by the integration tests' setup (libs/platform/kafka/test/topic-cleanup.setup.ts),
 * which may use the Kafka library this one may not import.
 */
async function deleteTopics(topicPrefix: string): Promise<void> {
  const remove = (globalThis as { capDeleteTestTopics?: (prefix: string) => Promise<void> }).capDeleteTestTopics;
  await remove?.(topicPrefix);
}
