import { z } from 'zod';
import { errors } from '@cap/platform-errors';
import type { RpcHandler } from '@cap/platform-kafka';
import type { Pool } from '@cap/platform-postgres';

const getParams = z.object({ name: z.string().max(64) });

interface OptionRow {
  data_type: number | null;
  string_value: string | null;
  long_value: number | null;
  double_value: number | null;
  time_stamp_value: Date | null;
  memo_value: string | null;
}

/** The value text of an option and its Campaign type code (0 = not found, 6 = string, 3 = long…). */
export function optionValue(row: OptionRow | undefined): { value: string; type: number } {
  if (!row) return { value: '', type: 0 };
  const type = row.data_type ?? 6;
  switch (type) {
    case 1:
    case 2:
    case 3:
    case 15:
      return { value: row.long_value === null ? '' : String(row.long_value), type };
    case 4:
    case 5:
      return { value: row.double_value === null ? '' : String(row.double_value), type };
    case 7:
    case 10:
      return { value: row.time_stamp_value ? row.time_stamp_value.toISOString() : '', type };
    case 12:
    case 13:
      return { value: row.memo_value ?? '', type };
    default:
      return { value: row.string_value ?? '', type };
  }
}

export function createOptionRpcHandlers(deps: { pool: Pool }): Record<string, RpcHandler> {
  return {
    'option.get': async (params) => {
      const p = getParams.safeParse(params);
      if (!p.success) throw errors.invalidRequest('option.get parameters', p.error.issues[0]?.message ?? 'rejected');
      const { rows } = await deps.pool.query<OptionRow>(
        'SELECT data_type, string_value, long_value, double_value, time_stamp_value, memo_value FROM xtk_option WHERE name = $1',
        [p.data.name],
      );
      return optionValue(rows[0]);
    },
  };
}
