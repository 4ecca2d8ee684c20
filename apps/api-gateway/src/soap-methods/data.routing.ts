import { SERVICES } from '@cap/contracts';
import type { Schema } from '@cap/campaign-schema';
import type { DownstreamName } from '../downstream.client';
import type { Caller } from '../session/authenticator';

/**
 * Where a schema's rows are served (docs/architecture.md#2-where-a-schema-lives): cloud schemas by cloud-executor (v7 Write goes
 * straight to the cloud DB, as in Campaign v8); local, replicated and staging schemas by local-store.
 */
export function serviceFor(schema: Schema): DownstreamName {
  return schema.placement === 'cloud' ? SERVICES.cloudExecutor : SERVICES.localStore;
}

/**
 * Who a data request runs for, as the writing service reads it: the operator id (local-store checks that
 * operator's current rights in its own database), and the login and rights resolved here for services that
 * keep no operators. Anonymous callers claim nothing.
 */
export function callerClaim(caller: Caller): { operatorId?: string; operatorLogin?: string; operatorRights?: string[] } {
  if (caller.kind !== 'operator') return {};
  return { operatorId: caller.operator.id, operatorLogin: caller.operator.login, operatorRights: caller.operator.rights };
}
