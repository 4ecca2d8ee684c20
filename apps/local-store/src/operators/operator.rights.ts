import type { OperatorRightsLookup } from '@cap/campaign-rpc';
import type { Pool } from '@cap/platform-postgres';

/** `rights` as stored: comma-separated named rights. */
export function parseRights(text: string | null): string[] {
  return (text ?? '')
    .split(',')
    .map((r) => r.trim())
    .filter(Boolean);
}

/** An operator id as local-store issues them (a 64-bit sequence value). */
const OPERATOR_ID = /^[0-9]{1,19}$/;

/**
 * The rights writes are checked against, read from the operators table by the id the request carries (never
 * from the rights it claims): a disabled, deleted or unknown operator has none, and a rights change applies to
 * the next write.
 */
export function createOperatorRightsLookup(pool: Pool): OperatorRightsLookup {
  return async (claimed) => {
    if (!claimed.operatorId || !OPERATOR_ID.test(claimed.operatorId)) return { rights: [] };
    const { rows } = await pool.query<{ name: string; rights: string | null; disabled: boolean | null }>(
      'SELECT name, rights, disabled FROM xtk_operator WHERE id = $1',
      [claimed.operatorId],
    );
    const row = rows[0];
    if (!row || row.disabled) return { rights: [], ...(row ? { login: row.name } : {}) };
    return { login: row.name, rights: parseRights(row.rights) };
  };
}
