import { z } from 'zod';
import { appError, ErrorCatalogue, errors } from '@cap/platform-errors';
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

const BIGINT_MAX = (1n << 63n) - 1n;

/**
 * `delivery.filesToDownload` (nms:delivery#GetFilesToDownload): in Campaign, the files a delivery needs (attached
 * files, images of mid-sourcing deliveries) that an execution instance must download, and those it must not. Here
 * deliveries carry no attached files and there is no mid-sourcing: cloud-executor renders and sends from the
 * execution database, so both lists are empty. The delivery must exist as a delivery action (not a template) in
 * that database: DELIVERY_UNKNOWN otherwise, as for a delivery command.
 */
export function createFilesToDownloadHandler(deps: { pool: Pool }) {
  return async (raw: unknown): Promise<{ filesToDownload: string; filesNotToDownload: string }> => {
    const p = z.object({ deliveryId: z.string().max(40) }).safeParse(raw);
    if (!p.success) throw errors.invalidRequest('delivery.filesToDownload parameters', p.error.issues[0]?.message ?? 'rejected');
    const deliveryId = p.data.deliveryId.trim();
    if (!/^\d{1,19}$/.test(deliveryId) || BigInt(deliveryId) > BIGINT_MAX)
      throw appError(ErrorCatalogue.DELIVERY_UNKNOWN, { deliveryId: deliveryId.slice(0, 40) });
    const { rowCount } = await deps.pool.query('SELECT 1 FROM nms_delivery WHERE id = $1 AND is_model IS NOT TRUE', [deliveryId]);
    if (rowCount !== 1) throw appError(ErrorCatalogue.DELIVERY_UNKNOWN, { deliveryId });
    return { filesToDownload: '<filesToDownload/>', filesNotToDownload: '<filesNotToDownload/>' };
  };
}
