import { z } from 'zod';
import { errors } from '@cap/platform-errors';
import { startRpcServer, type RpcHandler, type RpcRequest, type RpcServer, type TopicDefinition } from '@cap/platform-kafka';
import {
  checkPool,
  createPgQuarantine,
  ensureQuarantineTable,
  openDatabase,
  pingDatabase,
  registerQuarantineGauge,
  type PgQuarantine,
  type Pool,
} from '@cap/platform-postgres';
import {
  startQuarantineReplayer,
  startServiceHttp,
  type BaseServiceConfig,
  type RunningService,
  type ServiceBase,
  type ServiceState,
} from '@cap/platform-runtime';

/*
 * The process shape shared by the services that own a database and answer requests over Kafka (local-store,
 * cloud-executor), in two steps their main.ts calls in order, inside runService (@cap/platform-runtime):
 *
 *   const service = await openDataService(base, config, { database, topics });
 *     opens the database (created and migrated first when MIGRATE_ON_START), creates the quarantine table and
 *     its gauge, creates the topics (KAFKA_ENSURE_TOPICS). It gives `pool` and `quarantine`; the app then applies
 *     its own schema DDL and seed data, builds its stores and modules, and starts their workers.
 *   return service.serve({ state, requestTopic, handlers, workers, quarantineConsumers });
 *     serves RPC (one consumer group shared by every replica, `system.ping` and `quarantine.counts` added),
 *     starts the quarantine replayer, then HTTP: /healthz, /readyz (database, Kafka, RPC consumer, each worker's
 *     check), /metrics. It returns what runService stops on SIGTERM: the workers in reverse order (the replayer
 *     first), then RPC (in-flight requests are answered), HTTP, messaging, the pool.
 *
 * A start that fails after openDataService calls `service.close()` (messaging and the pool); serve() stops what
 * it was given and what it started before it rethrows.
 */

export interface DataServiceConfig extends BaseServiceConfig {
  DB_POOL_MAX: number;
  MIGRATE_ON_START: boolean;
  KAFKA_ENSURE_TOPICS: boolean;
  RPC_MAX_IN_FLIGHT: number;
  RPC_MAX_IN_FLIGHT_BYTES: number;
}

/** Background work beside the RPC server, already running when it is handed to serve(): consumers, relays, timers. */
export interface DataServiceWorker {
  name: string;
  /** Readiness probe (optional): rejects while the worker cannot do its job. */
  check?(): Promise<void>;
  /** Stops taking new work and finishes (or safely abandons) what is in flight. */
  stop(): Promise<void>;
}

export interface OpenDataServiceOptions {
  database: { label: string; url: string; migrationsDir: string };
  /** Topics this deployment needs (created when missing, if KAFKA_ENSURE_TOPICS), before any consumer starts. */
  topics: TopicDefinition<unknown>[];
}

export interface ServeOptions {
  /** From runService: readiness turns false when shutdown begins. */
  state: ServiceState;
  requestTopic: TopicDefinition<RpcRequest>;
  /** The service's RPC handlers. `system.ping` and `quarantine.counts` are added for every service. */
  handlers: Record<string, RpcHandler>;
  /** Running workers, stopped in reverse order before RPC on shutdown. */
  workers: DataServiceWorker[];
  /** The consumers whose quarantined messages go back to their topic when an administrator releases them. */
  quarantineConsumers?: string[];
}

export interface DataService {
  readonly base: ServiceBase;
  readonly pool: Pool;
  /** Where this service's consumers set aside what they cannot process (its database's cap_quarantine). */
  readonly quarantine: PgQuarantine;
  /** Serves RPC and HTTP with these handlers and workers; returns what runService stops on SIGTERM. */
  serve(options: ServeOptions): Promise<RunningService>;
  /** For a start that fails before serve() returns: closes messaging and the pool (once). */
  close(): Promise<void>;
}

const pingParams = z.object({ dbSleepMs: z.number().int().min(0).max(2_000).optional() }).nullable();

/** Opens the service's database (migrated when MIGRATE_ON_START) and quarantine, and creates its topics. */
export async function openDataService(base: ServiceBase, config: DataServiceConfig, options: OpenDataServiceOptions): Promise<DataService> {
  const { logger, messaging } = base;
  const pool = await openDatabase({
    database: options.database.label,
    url: options.database.url,
    poolMax: config.DB_POOL_MAX,
    applicationName: base.instanceId,
    logger,
    ...(config.MIGRATE_ON_START ? { migrationsDir: options.database.migrationsDir } : {}),
  });
  const quarantine = createPgQuarantine(pool);
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await messaging.close();
    await pool.end();
  };
  try {
    await ensureQuarantineTable(pool);
    registerQuarantineGauge(base.registry, quarantine);
    if (config.KAFKA_ENSURE_TOPICS) await messaging.ensureTopics(options.topics);
  } catch (err) {
    await close();
    throw err;
  }

  const stopWorkers = async (workers: DataServiceWorker[]) => {
    for (const worker of [...workers].reverse()) {
      await worker.stop().catch((err: unknown) => logger.error({ event: 'worker.stop_failed', worker: worker.name, err }, 'worker did not stop cleanly'));
    }
  };

  const serve = async ({ state, requestTopic, handlers, workers: given, quarantineConsumers }: ServeOptions): Promise<RunningService> => {
    const workers = [...given];
    let rpc: RpcServer | undefined;
    try {
      rpc = await startRpcServer(messaging, {
        service: base.service,
        requestTopic,
        groupId: base.service,
        maxInFlight: config.RPC_MAX_IN_FLIGHT,
        maxInFlightBytes: config.RPC_MAX_IN_FLIGHT_BYTES,
        registry: base.registry,
        handlers: {
          ...handlers,
          // What this database's consumers have set aside (GetStagingStatus, mcPing.jsp).
          'quarantine.counts': async () => ({ counts: await quarantine.counts() }),
          // Proves a request reached this service and that its database answers (dbSleepMs: diagnostics).
          'system.ping': async (params) => {
            const parsed = pingParams.safeParse(params);
            if (!parsed.success) throw errors.invalidRequest('system.ping parameters', parsed.error.issues[0]?.message ?? 'rejected');
            const db = await pingDatabase(pool, parsed.data?.dbSleepMs ?? 0);
            return { service: base.service, instance: base.instanceId, database: options.database.label, ...db };
          },
        },
      });
      if (quarantineConsumers?.length) {
        const replayer = startQuarantineReplayer({ messaging, store: quarantine, consumers: quarantineConsumers, logger });
        workers.push({ name: replayer.name, stop: () => replayer.stop() });
      }
      const server = rpc;
      const http = await startServiceHttp(base, config, {
        state,
        checks: [
          { name: 'postgres', check: () => checkPool(pool) },
          { name: 'kafka', check: () => messaging.checkHealth() },
          { name: 'rpc-consumer', check: () => server.checkHealth() },
          ...workers.flatMap((w) => (w.check ? [{ name: w.name, check: () => w.check!() }] : [])),
        ],
      });
      return {
        async stop() {
          await stopWorkers(workers);
          await server.stop(); // stop intake; waits for in-flight requests to finish and reply
          await http.close(2_000);
          await close();
        },
      };
    } catch (err) {
      await stopWorkers(workers);
      await rpc?.stop();
      throw err;
    }
  };

  return { base, pool, quarantine, serve, close };
}
