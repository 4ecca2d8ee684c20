import { setTimeout as sleep } from 'node:timers/promises';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { TOPICS, type StagedChange } from '@cap/contracts';
import type { Messaging, TopicDefinition } from '@cap/platform-kafka';
import type { Logger } from '@cap/platform-logger';
import type { Pool, PoolClient } from '@cap/platform-postgres';

export interface OutboxRelayOptions {
  pool: Pool;
  messaging: Messaging;
  logger: Logger;
  registry: Registry;
  /** Most outbox rows published per round. */
  batchSize: number;
  /** Poll interval when no notification arrives (notifications wake the relay at once). */
  idleMs: number;
  /**
   * After a notification, how long to wait before the round, so that it carries the rows other transactions
   * commit meanwhile: under load, fewer and larger rounds (each round is a transaction, a Kafka produce and a
   * delete). An explicit wake (StartReplicateStagingData) does not wait. Default 0.
   */
  lingerMs?: number;
}

export interface OutboxRelay {
  /** Runs a round now (StartReplicateStagingData). */
  wake(): void;
  check(): Promise<void>;
  stop(): Promise<void>;
}

const TOPIC_BY_NAME = new Map<string, TopicDefinition<StagedChange>>([
  [TOPICS.stagingChanges.name, TOPICS.stagingChanges],
  [TOPICS.replicationChanges.name, TOPICS.replicationChanges],
  [TOPICS.messageCenterEvents.name, TOPICS.messageCenterEvents as unknown as TopicDefinition<StagedChange>], // events for the message center (payload: MessageCenterEvent)
]);

/** Any constant: the advisory lock that makes one relay (of all local-store replicas) publish at a time. */
const RELAY_LOCK = 7_245_001;

/**
 * Publishes the outbox to Kafka, oldest first, at least once: a round locks the relay (one replica at a
 * time), reads a batch, publishes it (acks=all) and deletes the rows in the same transaction. A crash between
 * publish and commit publishes those rows again; staging-sync's per-key sequence check makes that harmless.
 * Woken by NOTIFY cap_outbox from the outbox trigger, and by a poll as a safety net.
 */
export function startOutboxRelay(options: OutboxRelayOptions): OutboxRelay {
  const { pool, messaging, logger } = options;
  const metrics = {
    published: new Counter({ name: 'cap_outbox_published_total', help: 'Outbox rows published to Kafka', labelNames: ['topic'], registers: [options.registry] }),
    failures: new Counter({ name: 'cap_outbox_relay_failures_total', help: 'Relay rounds that failed (retried)', registers: [options.registry] }),
    round: new Histogram({ name: 'cap_outbox_relay_round_seconds', help: 'Duration of a relay round that published rows', buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5], registers: [options.registry] }),
    lastSuccess: new Gauge({ name: 'cap_outbox_relay_last_success_seconds', help: 'Unix time of the last successful relay round', registers: [options.registry] }),
  };
  let stopped = false;
  let wakeUp: (() => void) | undefined;
  let pendingWake = false;
  let urgent = false;
  let lastError: Error | undefined;
  let listener: PoolClient | undefined;

  const notified = () => {
    pendingWake = true;
    wakeUp?.();
  };
  const wake = () => {
    urgent = true;
    notified();
  };
  const waitForWake = (ms: number) =>
    new Promise<void>((resolve) => {
      if (pendingWake || stopped) return resolve();
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        wakeUp = undefined;
        resolve();
      }
      wakeUp = done;
    });

  const listen = async () => {
    try {
      const client = await pool.connect();
      client.on('notification', notified);
      client.on('error', (err) => {
        logger.warn({ event: 'outbox.listen_lost', err: { message: err.message } }, 'outbox notification connection lost; polling until it is back');
        client.release(true);
        if (listener === client) listener = undefined;
      });
      await client.query('LISTEN cap_outbox');
      listener = client;
    } catch (err) {
      logger.warn({ event: 'outbox.listen_failed', err: { message: (err as Error).message } }, 'cannot LISTEN for outbox notifications; polling');
    }
  };

  /** One round: returns how many rows were published, or -1 when another replica holds the relay. */
  const round = async (): Promise<number> => {
    const client = await pool.connect();
    const started = process.hrtime.bigint();
    try {
      await client.query('BEGIN');
      const locked = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock($1) AS ok', [RELAY_LOCK]);
      if (!locked.rows[0]!.ok) {
        await client.query('ROLLBACK');
        return -1;
      }
      const { rows } = await client.query<{ id: string; topic: string; message_key: string; payload: StagedChange & { seq?: string } }>(
        'SELECT id, topic, message_key, payload FROM cap_outbox ORDER BY id LIMIT $1',
        [options.batchSize],
      );
      if (rows.length === 0) {
        await client.query('COMMIT');
        return 0;
      }
      const byTopic = new Map<string, { key: string; payload: StagedChange }[]>();
      for (const row of rows) {
        const list = byTopic.get(row.topic) ?? [];
        list.push({ key: row.message_key, payload: { ...row.payload, seq: row.payload.seq ?? row.id } as StagedChange });
        byTopic.set(row.topic, list);
      }
      for (const [name, messages] of byTopic) {
        const topic = TOPIC_BY_NAME.get(name);
        if (!topic) throw new Error(`outbox row for unknown topic ${name}`);
        await messaging.publish(topic, messages);
        metrics.published.inc({ topic: name }, messages.length);
      }
      await client.query('DELETE FROM cap_outbox WHERE id = ANY($1::bigint[])', [rows.map((r) => r.id)]);
      await client.query('COMMIT');
      metrics.round.observe(Number(process.hrtime.bigint() - started) / 1e9);
      return rows.length;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  };

  const loop = (async () => {
    await listen();
    let failures = 0;
    while (!stopped) {
      pendingWake = false;
      let published = 0;
      try {
        published = await round();
        failures = 0;
        lastError = undefined;
        metrics.lastSuccess.set(Date.now() / 1000);
      } catch (err) {
        failures++;
        lastError = err as Error;
        metrics.failures.inc();
        logger.warn({ event: 'outbox.relay_failed', failures, err: { message: (err as Error).message } }, 'outbox relay round failed; retrying');
        await sleep(Math.min(5_000, 100 * 2 ** Math.min(failures, 6)));
        continue;
      }
      if (!listener && !stopped) await listen();
      if (published === options.batchSize) continue; // more waiting
      // Another replica relays (-1): check back now and then, in case it goes away.
      await waitForWake(published < 0 ? Math.max(options.idleMs, 1_000) : options.idleMs);
      if (options.lingerMs && pendingWake && !urgent && !stopped && published >= 0) await sleep(options.lingerMs);
      urgent = false;
    }
  })();

  return {
    wake,
    async check() {
      if (lastError) throw new Error(`outbox relay failing: ${lastError.message}`);
    },
    async stop() {
      stopped = true;
      wakeUp?.();
      await loop;
      if (listener) {
        await listener.query('UNLISTEN cap_outbox').catch(() => undefined);
        listener.release();
      }
    },
  };
}
