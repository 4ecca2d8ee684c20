import { z } from 'zod';
import { OPERATOR_STATE_METHOD } from '@cap/contracts';
import { appError, ErrorCatalogue, errors } from '@cap/platform-errors';
import type { RpcHandler } from '@cap/platform-kafka';
import type { Pool } from '@cap/platform-postgres';
import { verifyPassword } from '@cap/platform-secrets';
import { parseRights } from './operator.rights';
import { readOperatorState, type OperatorStateRow } from './operator-state.publisher';

export interface OperatorView {
  id: string;
  login: string;
  label: string;
  rights: string[];
  timezone: string;
}

const invalidLogin = () => appError(ErrorCatalogue.LOGON_REFUSED, {});

const authenticateParams = z.object({ login: z.string().max(128), password: z.string().max(1024), loginToken: z.boolean() });
const getParams = z.object({ login: z.string().min(1).max(128) });
const stateParams = z.object({ id: z.string().regex(/^\d{1,19}$/) });

interface OperatorRow extends OperatorStateRow {
  password_hash: string | null;
}

const SELECT_OPERATOR = `
  SELECT o.id::text AS id, o.name, o.label, o.rights, o.timezone, o.disabled, c.password_hash, c.allow_login_token
  FROM xtk_operator o LEFT JOIN cap_operator_credential c ON c.login = o.name
  WHERE o.name = $1`;

function toView(row: OperatorRow): OperatorView {
  return {
    id: row.id,
    login: row.name,
    label: row.label ?? row.name,
    rights: parseRights(row.rights),
    timezone: row.timezone ?? 'UTC',
  };
}

// A fixed hash to verify against when the login is unknown, so both cases cost the same time.
const DUMMY_HASH = 'scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$' + 'A'.repeat(86) + '==';

/** Operator authentication for the gateway: Logon, login/password tokens, bearer-token operators. */
export function createOperatorRpcHandlers(deps: { pool: Pool }): Record<string, RpcHandler> {
  const find = async (login: string) => (await deps.pool.query<OperatorRow>(SELECT_OPERATOR, [login])).rows[0];
  return {
    'operator.authenticate': async (params) => {
      const p = authenticateParams.safeParse(params);
      if (!p.success) throw errors.invalidRequest('operator.authenticate parameters', p.error.issues[0]?.message ?? 'rejected');
      const row = await find(p.data.login);
      const ok = await verifyPassword(p.data.password, row?.password_hash ?? DUMMY_HASH);
      if (!row || !ok || row.disabled || (p.data.loginToken && !row.allow_login_token)) throw invalidLogin();
      return toView(row);
    },
    // A gateway whose Redis has no state for a session's operator (expired, or Redis restarted) asks here.
    [OPERATOR_STATE_METHOD]: async (params) => {
      const p = stateParams.safeParse(params);
      if (!p.success) throw errors.invalidRequest('operator.state parameters', p.error.issues[0]?.message ?? 'rejected');
      return readOperatorState(deps.pool, p.data.id);
    },
    'operator.get': async (params) => {
      const p = getParams.safeParse(params);
      if (!p.success) throw errors.invalidRequest('operator.get parameters', p.error.issues[0]?.message ?? 'rejected');
      const row = await find(p.data.login);
      if (!row || row.disabled) throw invalidLogin();
      return toView(row);
    },
  };
}
