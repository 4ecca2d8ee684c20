import { z } from 'zod';
import { errors } from '@cap/platform-errors';
import type { RpcHandler } from '@cap/platform-kafka';
import { pingDatabase, type Pool } from '@cap/platform-postgres';

const pingParams = z.object({ dbSleepMs: z.number().int().min(0).max(2_000).optional() }).nullable();

/** `system.ping`: proves the request reached this service and that its local database answers. */
export function createSystemHandlers(deps: { instanceId: string; pool: Pool }): Record<string, RpcHandler> {
  return {
    'system.ping': async (params) => {
      const parsed = pingParams.safeParse(params);
      if (!parsed.success) throw errors.invalidRequest('system.ping parameters', parsed.error.issues[0]?.message ?? 'rejected');
      const db = await pingDatabase(deps.pool, parsed.data?.dbSleepMs ?? 0);
      return { service: 'local-store', instance: deps.instanceId, database: 'local', ...db };
    },
  };
}
