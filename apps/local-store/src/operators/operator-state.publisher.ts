import { operatorStateKey, type OperatorState } from '@cap/contracts';
import type { Logger } from '@cap/platform-logger';
import { startPgListener, type Pool } from '@cap/platform-postgres';
import type { RedisClient } from '@cap/platform-redis';
import { parseRights } from './operator.rights';

/** The channel the operator triggers notify on, with the operator's id as payload. */
const CHANNEL = 'cap_operator_changed';

/**
 * Every change to an operator row or its credentials notifies, in the writing transaction (so any path —
 * Write, WriteCollection, DeleteCollection, a package, plain SQL — is covered, and only committed changes are).
 */
export const OPERATOR_TRIGGERS_SQL = `
CREATE OR REPLACE FUNCTION cap_operator_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('${CHANNEL}', (CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END)::text);
  RETURN NULL;
END $$;
CREATE OR REPLACE TRIGGER cap_operator_notify AFTER INSERT OR UPDATE OR DELETE ON xtk_operator FOR EACH ROW EXECUTE FUNCTION cap_operator_notify();
CREATE OR REPLACE FUNCTION cap_operator_credential_notify() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  operator_id text := (SELECT id::text FROM xtk_operator WHERE name = (CASE WHEN TG_OP = 'DELETE' THEN OLD.login ELSE NEW.login END));
BEGIN
  IF operator_id IS NOT NULL THEN PERFORM pg_notify('${CHANNEL}', operator_id); END IF;
  RETURN NULL;
END $$;
CREATE OR REPLACE TRIGGER cap_operator_credential_notify AFTER INSERT OR UPDATE OR DELETE ON cap_operator_credential FOR EACH ROW EXECUTE FUNCTION cap_operator_credential_notify();
`;

/** An operator row joined with its credentials' login-token flag, as the state queries read it. */
export interface OperatorStateRow {
  id: string;
  name: string;
  label: string | null;
  rights: string | null;
  timezone: string | null;
  disabled: boolean | null;
  allow_login_token: boolean | null;
}

const SELECT_STATES = `
  SELECT o.id::text AS id, o.name, o.label, o.rights, o.timezone, o.disabled, c.allow_login_token
  FROM xtk_operator o LEFT JOIN cap_operator_credential c ON c.login = o.name`;

function toState(row: OperatorStateRow): OperatorState {
  return {
    kind: 'operator',
    id: row.id,
    login: row.name,
    label: row.label ?? row.name,
    rights: parseRights(row.rights),
    timezone: row.timezone ?? 'UTC',
    disabled: row.disabled === true,
    allowLoginToken: row.allow_login_token === true,
  };
}

/** An operator's current state from the database: what the gateway needs to serve its sessions. */
export async function readOperatorState(pool: Pool, id: string): Promise<OperatorState> {
  const { rows } = await pool.query<OperatorStateRow>(`${SELECT_STATES} WHERE o.id = $1`, [id]);
  return rows[0] ? toState(rows[0]) : { kind: 'deleted', id };
}

export interface OperatorStatePublisher {
  check(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Keeps each operator's state in Redis for the gateways (libs/contracts/src/operator-state.contract.ts): on every
 * notification from the operator triggers it reads the committed row and writes the key; each time it starts
 * listening (start-up, reconnection: notifications sent meanwhile are lost) it writes every operator's. Every
 * local-store replica does the same work; the writes are idempotent.
 */
export function startOperatorStatePublisher(deps: {
  pool: Pool;
  redis: RedisClient;
  keyPrefix: string;
  ttlMs: number;
  logger: Logger;
  retryMs?: number;
}): OperatorStatePublisher {
  const logger = deps.logger.child({ module: 'operator-state' });
  const retryMs = deps.retryMs ?? 2_000;
  const write = (state: OperatorState) => deps.redis.set(operatorStateKey(deps.keyPrefix, state.id), JSON.stringify(state), { PX: deps.ttlMs });
  let stopped = false;
  let retry: NodeJS.Timeout | undefined;
  const publishAll = async () => {
    const { rows } = await deps.pool.query<OperatorStateRow>(SELECT_STATES);
    for (const row of rows) await write(toState(row));
    logger.info({ event: 'operator.state.republished', operators: rows.length }, 'every operator state published');
  };
  // A state that could not be written (Redis or the database away) is caught up by writing them all again.
  const republishLater = () => {
    if (stopped || retry) return;
    retry = setTimeout(() => {
      retry = undefined;
      queue = queue
        .catch(() => undefined)
        .then(publishAll)
        .catch(republishLater);
    }, retryMs);
    retry.unref();
  };
  // Notifications are applied one at a time, in order, so an older read never lands after a newer one.
  let queue: Promise<void> = Promise.resolve();
  const publishOne = (id: string) => {
    if (!/^\d{1,19}$/.test(id)) return;
    queue = queue
      .catch(() => undefined)
      .then(async () => {
        const state = await readOperatorState(deps.pool, id);
        await write(state);
        logger.info(
          { event: 'operator.state.published', operatorId: id, kind: state.kind, disabled: state.kind === 'operator' ? state.disabled : undefined },
          'operator state published',
        );
      })
      .catch((err: unknown) => {
        logger.warn({ event: 'operator.state.publish_failed', operatorId: id, err }, 'operator state not published; every state is written again shortly');
        republishLater();
      });
  };
  const listener = startPgListener({
    pool: deps.pool,
    channel: CHANNEL,
    logger,
    onNotification: publishOne,
    onListening: () => (queue = queue.catch(() => undefined).then(publishAll)),
  });
  return {
    check: () => listener.check(),
    async stop() {
      stopped = true;
      if (retry) clearTimeout(retry);
      await listener.stop();
      await queue.catch(() => undefined);
    },
  };
}
