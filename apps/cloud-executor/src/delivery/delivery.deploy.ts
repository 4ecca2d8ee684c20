import { z } from 'zod';
import { errors } from '@cap/platform-errors';
import type { Pool } from '@cap/platform-postgres';

const params = z.object({ deliveryId: z.string().regex(/^\d{1,18}$/) });

/**
 * `delivery.messageTemplateLive` (nms:delivery#DeployTriggerMessageSingle): whether the message template with this
 * id is live for the message center, i.e. its copy is in the execution (cloud) database, where cloud-executor
 * reads templates for each event. There is no separate publication step here: a template is live as soon as it
 * is replicated (about a second after its Write), so deploying amounts to asking whether that has happened.
 */
export function createMessageTemplateLiveHandler(deps: { pool: Pool }) {
  return async (raw: unknown): Promise<{ live: boolean }> => {
    const p = params.safeParse(raw);
    if (!p.success) throw errors.invalidRequest('delivery.messageTemplateLive parameters', p.error.issues[0]?.message ?? 'rejected');
    const { rowCount } = await deps.pool.query("SELECT 1 FROM nms_delivery WHERE id = $1 AND is_model AND coalesce(event_type, '') <> ''", [p.data.deliveryId]);
    return { live: rowCount === 1 };
  };
}
