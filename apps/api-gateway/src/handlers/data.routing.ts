import { SERVICES } from '@cap/contracts';
import type { Schema } from '@cap/campaign-schema';
import type { DownstreamName } from '../downstream.client';

/**
 * Where a schema's rows are served (architecture §3): cloud schemas by cloud-executor (v7 Write goes
 * straight to the cloud DB, as in Campaign v8); local, replicated and staging schemas by local-store.
 */
export function serviceFor(schema: Schema): DownstreamName {
  return schema.placement === 'cloud' ? SERVICES.cloudExecutor : SERVICES.localStore;
}

/** Schemas only administrators may write (S4). */
export const ADMIN_WRITE_SCHEMAS = new Set(['xtk:operator', 'xtk:option']);
