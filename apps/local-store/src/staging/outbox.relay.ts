import { setTimeout as sleep } from 'node:timers/promises';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { TOPICS, type StagedChange } from '@cap/contracts';
import type { Messaging, TopicDefinition } from '@cap/platform-kafka';
import type { Logger } from '@cap/platform-logger';
import { withTransaction, type PgQuarantine, type Pool, type PoolClient } from '@cap/platform-postgres';
import { exponentialBackoff } from '@cap/platform-resilience';
import { startPollingWorker } from '@cap/platform-runtime';
import type { OutboxRow, RelayRouteTracker } from './relay-routes.tracker';

export interface OutboxRelayOptions {
  pool: Pool;
  messaging: Messaging;
  logger: Logger;
  registry: Registry;
  /** Most outbox rows published per round. */
  batchSize: number;
  /**
   * Poll interval when no notification arrives (notifications wake the relay at once). While the relay listens and
   * its rounds find nothing, the wait doubles after each empty round, up to ten times this: the poll is a safety
   * net, and an idle service should not query its database for nothing (docs/benchmarks.md, "Idle cost").
   */
  idleMs: number;
  /**
   * After a notification, how long to wait before the round, so that it carries the rows other transactions
   * commit meanwhile: under load, fewer and larger rounds (each round is a transaction, a Kafka produce and a
   * delete). An explicit wake (StartReplicateStagingData) does not wait. Default 0.
   */
  lingerMs?: number;
  /** Keeps the changes of one record, named by different keys, on one partition (record-order.router.ts). */
  routing?: RelayRouteTracker;
  /**
   * Where a row that cannot be published is set aside (with the rows of its key behind it) instead of holding
   * every row behind it. Without one, such a row stops the relay (it is retried every round).
   */
  quarantine?: PgQuarantine;
}

/** The relay's name in the quarantine. */
export const RELAY_CONSUMER = 'outbox-relay';

interface SetAside {
  row: OutboxRow;
  state: 'quarantined' | 'held';
  reasonCode: string;
  reason: string;
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

/** Any constant: the advisory lock that makes one relay round (of all local-store replicas) run at a time. */
const RELAY_LOCK = 7_245_001;
/** The session lock of the leading relay: routes live in its memory, so one replica leads until it goes. */
const LEADER_LOCK = 7_245_002;
/** After a round cut short to keep a record's order, how soon to try again; after one cut by the in-flight bound. */
const HOLD_RETRY_MS = { links: 20, full: 250 } as const;
/** How far the safety-net poll stretches while idle: up to this many times `idleMs` (OutboxRelayOptions). */
const IDLE_POLL_GROWTH = 10;

/**
 * Publishes the outbox to Kafka, oldest first, at least once. One replica leads (a session advisory lock on
 * its LISTEN connection, released by PostgreSQL when that connection ends); a round locks the relay, reads a
 * batch, routes it, publishes it (acks=all) and deletes the rows in the same transaction. A crash between
 * publish and commit publishes those rows again; staging-sync's per-key sequence check makes that harmless.
 * Woken by NOTIFY cap_outbox from the outbox trigger, and by a poll as a safety net.
 */
export function startOutboxRelay(options: OutboxRelayOptions): OutboxRelay {
  const { pool, messaging, logger } = options;
  const metrics = {
    published: new Counter({
      name: 'cap_outbox_published_total',
      help: 'Outbox rows published to Kafka',
      labelNames: ['topic'],
      registers: [options.registry],
    }),
    failures: new Counter({ name: 'cap_outbox_relay_failures_total', help: 'Relay rounds that failed (retried)', registers: [options.registry] }),
    setAside: new Counter({
      name: 'cap_outbox_quarantined_total',
      help: 'Outbox rows set aside in the quarantine (quarantined: cannot be published; held: behind one of their key)',
      labelNames: ['topic', 'state'],
      registers: [options.registry],
    }),
    round: new Histogram({
      name: 'cap_outbox_relay_round_seconds',
      help: 'Duration of a relay round that published rows',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [options.registry],
    }),
    lastSuccess: new Gauge({
      name: 'cap_outbox_relay_last_success_seconds',
      help: 'Unix time of the last successful relay round',
      registers: [options.registry],
    }),
  };
  let urgent = false;
  let listener: PoolClient | undefined;
  /** Listening connections already given back (destroyed): released once, whatever errors come after. */
  const dropped = new WeakSet<PoolClient>();
  const drop = (client: PoolClient) => {
    if (dropped.has(client)) return;
    dropped.add(client);
    // Destroyed, never reused: it holds LISTEN and possibly the leader's session lock.
    client.release(true);
  };
  let leading = false;
  let held: 'links' | 'full' | undefined;
  const routing = options.routing;

  const notified = () => worker.wake();

  const listen = async () => {
    let conn: PoolClient | undefined;
    try {
      conn = await pool.connect();
      const listening = conn;
      listening.on('notification', notified);
      listening.on('error', (err) => {
        if (dropped.has(listening)) return;
        logger.warn({ event: 'outbox.listen_lost', err: { message: err.message } }, 'outbox notification connection lost; polling until it is back');
        drop(listening);
        if (listener === listening) {
          listener = undefined;
          if (leading) logger.warn({ event: 'outbox.lead_lost' }, 'outbox relay connection lost: no longer leading');
          leading = false;
          routing?.reset();
        }
      });
      await listening.query('LISTEN cap_outbox');
      // Lost in the same moment LISTEN completed: not kept, so the loop listens again.
      if (!dropped.has(listening)) listener = listening;
    } catch (err) {
      if (conn) drop(conn);
      logger.warn({ event: 'outbox.listen_failed', err: { message: (err as Error).message } }, 'cannot LISTEN for outbox notifications; polling');
    }
  };

  /** Takes the lead if no replica has it; on taking it, restores what the previous leader left in flight. */
  const lead = async (): Promise<boolean> => {
    if (leading) return true;
    if (!listener) return false;
    const { rows } = await listener.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [LEADER_LOCK]);
    if (!rows[0]!.ok) return false;
    if (routing) {
      const client = await pool.connect();
      try {
        await routing.lead(client);
      } catch (err) {
        await listener.query('SELECT pg_advisory_unlock($1)', [LEADER_LOCK]).catch(() => undefined);
        throw err;
      } finally {
        client.release();
      }
    }
    leading = true;
    logger.info({ event: 'outbox.leading' }, 'this replica now runs the outbox relay');
    return true;
  };

  /**
   * Splits a round's rows into those that can be published (each checked once against its topic's schema) and
   * those set aside: a row whose topic is unknown or whose change its topic refuses is quarantined, and the later
   * rows of its message key — and of any key already quarantined — are held behind it, so that one key keeps its
   * order and no other key waits.
   */
  const screen = async (rows: OutboxRow[]): Promise<{ clean: OutboxRow[]; setAside: SetAside[] }> => {
    const quarantine = options.quarantine;
    if (!quarantine) return { clean: rows, setAside: [] };
    const waiting = (await quarantine.hasQuarantined(RELAY_CONSUMER))
      ? await quarantine.heldKeys(RELAY_CONSUMER, [...new Set(rows.map((r) => r.message_key))])
      : new Set<string>();
    const clean: OutboxRow[] = [];
    const setAside: SetAside[] = [];
    for (const row of rows) {
      if (waiting.has(row.message_key)) {
        setAside.push({ row, state: 'held', reasonCode: 'HELD', reason: 'a change of this key is quarantined' });
        continue;
      }
      const topic = TOPIC_BY_NAME.get(row.topic);
      const checked = topic?.payload.safeParse({ ...row.payload, seq: row.payload.seq ?? row.id });
      if (!topic || !checked?.success) {
        const issue = checked && !checked.success ? checked.error.issues[0] : undefined;
        const reason = topic
          ? `the change does not fit ${row.topic}: ${issue?.path.join('.') || 'payload'}: ${issue?.message ?? 'invalid'}`
          : `unknown topic ${row.topic}`;
        setAside.push({ row, state: 'quarantined', reasonCode: topic ? 'INVALID_CHANGE' : 'UNKNOWN_TOPIC', reason });
        waiting.add(row.message_key);
        continue;
      }
      clean.push({ ...row, payload: checked.data as OutboxRow['payload'] });
    }
    return { clean, setAside };
  };

  /** One round: returns how many rows were published, or -1 when another replica holds the relay. */
  const round = async (): Promise<number> => {
    if (!(await lead())) return -1;
    let started = 0n;
    const outcome = await withTransaction(pool, async (client) => {
      started = process.hrtime.bigint();
      const locked = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock($1) AS ok', [RELAY_LOCK]);
      if (!locked.rows[0]!.ok) return { count: -1, published: false }; // nothing done: committing is rolling back
      const { rows: fetched } = await client.query<OutboxRow>('SELECT id, topic, message_key, payload FROM cap_outbox ORDER BY id LIMIT $1', [
        options.batchSize,
      ]);
      const { clean: read, setAside } = await screen(fetched);
      if (setAside.length > 0) {
        // Moved in this round's transaction: out of the outbox, into the quarantine.
        await options.quarantine!.put(
          setAside.map((a) => ({
            consumer: RELAY_CONSUMER,
            topic: a.row.topic,
            partition: -1,
            offset: a.row.id,
            key: a.row.message_key,
            value: Buffer.from(JSON.stringify(a.row.payload)),
            headers: {},
            reasonCode: a.reasonCode,
            reason: a.reason,
            state: a.state,
          })),
          client,
        );
        await client.query('DELETE FROM cap_outbox WHERE id = ANY($1::bigint[])', [setAside.map((a) => a.row.id)]);
        for (const a of setAside) {
          metrics.setAside.inc({ topic: a.row.topic, state: a.state });
          logger.warn(
            {
              event: a.state === 'held' ? 'outbox.change_held' : 'outbox.change_quarantined',
              id: a.row.id,
              topic: a.row.topic,
              key: a.row.message_key,
              reason: a.reason,
            },
            a.state === 'held' ? 'outbox change held behind a quarantined one' : 'outbox change quarantined',
          );
        }
      }
      if (routing) await routing.refresh(client, held !== undefined);
      const routed = routing?.route(read);
      held = routed?.held;
      const rows = routed ? read.slice(0, routed.count) : read;
      if (rows.length === 0) return { count: setAside.length, published: false };
      const byTopic = new Map<string, { key: string; payload: StagedChange }[]>();
      for (let i = 0; i < rows.length; i++) {
        const row = rows[i]!;
        const list = byTopic.get(row.topic) ?? [];
        list.push({ key: routed?.keys[i] ?? row.message_key, payload: { ...row.payload, seq: row.payload.seq ?? row.id } as StagedChange });
        byTopic.set(row.topic, list);
      }
      for (const [name, messages] of byTopic) {
        const topic = TOPIC_BY_NAME.get(name);
        if (!topic) throw new Error(`outbox row for unknown topic ${name}`);
        await messaging.publish(topic, messages, { validated: options.quarantine !== undefined });
        metrics.published.inc({ topic: name }, messages.length);
      }
      if (routed) await routing!.persist(client, routed.sticky);
      await client.query('DELETE FROM cap_outbox WHERE id = ANY($1::bigint[])', [rows.map((r) => r.id)]);
      return { count: rows.length + setAside.length, published: true };
    });
    if (outcome.published) metrics.round.observe(Number(process.hrtime.bigint() - started) / 1e9);
    return outcome.count;
  };

  let listening = false;
  /** The previous round ended in a wait that a wake-up could cut short, after publishing this many rows (-1: not leading). */
  let waited: number | undefined;
  const worker = startPollingWorker({
    name: 'outbox relay',
    intervalMs: options.idleMs,
    idleMaxMs: options.idleMs * IDLE_POLL_GROWTH,
    firstRound: 'now',
    round: async ({ signal, woken, forgetWakes }) => {
      if (!listening) {
        listening = true;
        await listen();
      }
      if (waited !== undefined) {
        // Woken by a notification: linger so that the round carries what other transactions commit meanwhile.
        if (options.lingerMs && woken && !urgent && !signal.aborted && waited >= 0) {
          await sleep(options.lingerMs);
          forgetWakes();
        }
        urgent = false;
      }
      waited = undefined;
      const published = await round();
      metrics.lastSuccess.set(Date.now() / 1000);
      if (!listener && !signal.aborted) await listen();
      // A record's order (or the in-flight bound) holds the rest back until staging-sync applies what is live.
      if (held) return { waitMs: HOLD_RETRY_MS[held], wakeable: false };
      if (published === options.batchSize) return { again: true }; // more waiting
      waited = published;
      // Another replica relays (-1): check back now and then, in case it goes away. Without a notification
      // connection, poll at the base interval: nothing else would say that rows are waiting.
      if (published < 0) return { waitMs: Math.max(options.idleMs, 1_000) };
      return { foundWork: published > 0 || !listener };
    },
    onError: (err, failures) => {
      metrics.failures.inc();
      logger.warn({ event: 'outbox.relay_failed', failures, err: { message: (err as Error).message } }, 'outbox relay round failed; retrying');
    },
    failureWaitMs: (failures) => exponentialBackoff(failures, { initialMs: 200, maxMs: 5_000 }),
  });

  return {
    wake() {
      urgent = true;
      worker.wake();
    },
    check: () => worker.check(),
    async stop() {
      await worker.stop();
      const conn = listener;
      if (conn) {
        const wasLeading = leading;
        listener = undefined;
        leading = false;
        await conn.query('UNLISTEN cap_outbox').catch(() => undefined);
        if (wasLeading) await conn.query('SELECT pg_advisory_unlock($1)', [LEADER_LOCK]).catch(() => undefined);
        drop(conn);
      }
    },
  };
}
