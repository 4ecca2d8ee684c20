import { z } from 'zod';
import { errors } from '@cap/platform-errors';
import { startRpcServer, type RpcHandler, type RpcRequest, type TopicDefinition } from '@cap/platform-kafka';
import { checkPool, createPgQuarantine, ensureQuarantineTable, openDatabase, pingDatabase, registerQuarantineGauge, type PgQuarantine, type Pool } from '@cap/platform-postgres';
import { createServiceBase, runService, startQuarantineReplayer, startServiceHttp, type BaseServiceConfig, type ServiceBase } from '@cap/platform-runtime';

export interface DataServiceConfig extends BaseServiceConfig {
  DB_POOL_MAX: number;
  MIGRATE_ON_START: boolean;
  KAFKA_ENSURE_TOPICS: boolean;
  RPC_MAX_IN_FLIGHT: number;
  RPC_MAX_IN_FLIGHT_BYTES: number;
}

export interface DataServiceContext {
  base: ServiceBase;
  pool: Pool;
  /** Where this service's consumers set aside what they cannot process (its database's cap_quarantine). */
  quarantine: PgQuarantine;
}

/** Background work beside the RPC server: consumers, relays, timers. */
export interface DataServiceWorker {
  name: string;
  /** Readiness probe (optional): rejects while the worker cannot do its job. */
  check?(): Promise<void>;
  /** Stops taking new work and finishes (or safely abandons) what is in flight. */
  stop(): Promise<void>;
}

export interface DataServiceOptions {
  service: string;
  config: DataServiceConfig;
  database: { label: string; url: string; migrationsDir: string };
  /** Topics this deployment needs (created when missing, if KAFKA_ENSURE_TOPICS). */
  topics: TopicDefinition<unknown>[];
  requestTopic: TopicDefinition<RpcRequest>;
  /** Runs once the database is open and migrated, before requests are served (schema DDL, seed data). */
  prepare?(ctx: DataServiceContext): Promise<void>;
  /** The service's RPC handlers, built once its database is open. `system.ping` is added for every service. */
  createHandlers(ctx: DataServiceContext): Record<string, RpcHandler>;
  /** Starts background workers once RPC is served; they are stopped (in reverse order) before RPC on shutdown. */
  startWorkers?(ctx: DataServiceContext): Promise<DataServiceWorker[]>;
  /** The consumers whose quarantined messages this service sends back to their topic when an administrator releases them. */
  quarantineConsumers?: string[];
}

const pingParams = z.object({ dbSleepMs: z.number().int().min(0).max(2_000).optional() }).nullable();

/**
 * The process shape shared by the services that own a database and answer requests over Kafka
 * (local-store, cloud-executor): open and migrate the database, serve RPC in one consumer group shared by
 * all replicas, expose health/readiness/metrics, and drain on SIGTERM (in-flight requests are answered).
 */
export function runDataService(options: DataServiceOptions): void {
  const { config } = options;
  const base = createServiceBase(options.service, config);
  const { logger, messaging } = base;

  void runService({
    name: options.service,
    logger,
    shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
    async start(state) {
      const pool = await openDatabase({
        database: options.database.label,
        url: options.database.url,
        poolMax: config.DB_POOL_MAX,
        applicationName: base.instanceId,
        logger,
        ...(config.MIGRATE_ON_START ? { migrationsDir: options.database.migrationsDir } : {}),
      });
      const quarantine = createPgQuarantine(pool);
      try {
        await ensureQuarantineTable(pool);
        await options.prepare?.({ base, pool, quarantine });
      } catch (err) {
        await pool.end();
        throw err;
      }
      registerQuarantineGauge(base.registry, quarantine);
      if (config.KAFKA_ENSURE_TOPICS) await messaging.ensureTopics(options.topics);
      const rpc = await startRpcServer(messaging, {
        service: options.service,
        requestTopic: options.requestTopic,
        groupId: options.service,
        maxInFlight: config.RPC_MAX_IN_FLIGHT,
        maxInFlightBytes: config.RPC_MAX_IN_FLIGHT_BYTES,
        registry: base.registry,
        handlers: {
          ...options.createHandlers({ base, pool, quarantine }),
          // What this database's consumers have set aside (GetStagingStatus, mcPing.jsp).
          'quarantine.counts': async () => ({ counts: await quarantine.counts() }),
          // Proves a request reached this service and that its database answers (dbSleepMs: diagnostics).
          'system.ping': async (params) => {
            const parsed = pingParams.safeParse(params);
            if (!parsed.success) throw errors.invalidRequest('system.ping parameters', parsed.error.issues[0]?.message ?? 'rejected');
            const db = await pingDatabase(pool, parsed.data?.dbSleepMs ?? 0);
            return { service: options.service, instance: base.instanceId, database: options.database.label, ...db };
          },
        },
      });
      let workers: DataServiceWorker[] = [];
      try {
        workers = (await options.startWorkers?.({ base, pool, quarantine })) ?? [];
        if (options.quarantineConsumers?.length) {
          const replayer = startQuarantineReplayer({ messaging, store: quarantine, consumers: options.quarantineConsumers, logger });
          workers.push({ name: replayer.name, stop: () => replayer.stop() });
        }
      } catch (err) {
        await rpc.stop();
        await messaging.close();
        await pool.end();
        throw err;
      }
      const http = await startServiceHttp(base, config, {
        state,
        checks: [
          { name: 'postgres', check: () => checkPool(pool) },
          { name: 'kafka', check: () => messaging.checkHealth() },
          { name: 'rpc-consumer', check: () => rpc.checkHealth() },
          ...workers.flatMap((w) => (w.check ? [{ name: w.name, check: () => w.check!() }] : [])),
        ],
      });
      return {
        async stop() {
          for (const worker of [...workers].reverse()) {
            await worker.stop().catch((err: unknown) => logger.error({ event: 'worker.stop_failed', worker: worker.name, err }, 'worker did not stop cleanly'));
          }
          await rpc.stop(); // stop intake; waits for in-flight requests to finish and reply
          await http.close(2_000);
          await messaging.close();
          await pool.end();
        },
      };
    },
  });
}
