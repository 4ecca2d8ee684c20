import type { Method, Schema } from '@cap/campaign-schema';
import { decodeParams, parseSoapAction, resolveUrn, SOAP_FAULTS, type DecodedCall, type SoapCall } from '@cap/campaign-soap';
import type { Authenticator, Caller } from '../session/authenticator';
import { hasRight } from '../session/session.model';
import { CAMPAIGN_FAULTS } from './campaign.faults';
import type { CallContext, HandlerResult, HandlerTable, SoapHandler } from './soap.handler';

/** A call as routed: its canonical API name and its decoded parameters. */
export interface ResolvedCall {
  /**
   * One name per API whatever URN spelling reached it: `schema#Method` for a schema's own method
   * (`xtk:session#Logon`, `nms:rtEvent#PushEvent`), `xtk:persist#Method` for the persist interface however
   * it is addressed (`xtk:session#Write`, `xtk:persist|nms:recipient#Write`, `nms:recipient#Write`).
   */
  api: string;
  decoded: DecodedCall;
}

export interface Dispatcher {
  /** Finds the schema, method and handler for a call, or throws SOAP_UNKNOWN_METHOD. */
  resolve(call: SoapCall): { schema: Schema; method: Method; handler: SoapHandler };
  /** The canonical API name of `urn#Method` as a client may write it; undefined when no such API is served. */
  canonicalName(apiName: string): string | undefined;
  /** Authenticates, authorises and runs the handler. `admit` may refuse (rate limiting) before the handler runs. */
  dispatch(call: SoapCall, request: CallContext['request'], admit?: (caller: Caller, resolved: ResolvedCall) => Promise<void>): Promise<HandlerResult & { method: Method }>;
}

/** The canonical API name of a resolved method (see ResolvedCall.api). */
export function canonicalApi(schema: Schema, method: Method): string {
  return method.interface === 'persist' ? `xtk:persist#${method.name}` : `${schema.id}#${method.name}`;
}

export function createDispatcher(deps: { schemas: ReadonlyMap<string, Schema>; handlers: HandlerTable; authenticator: Authenticator }): Dispatcher {
  const session = deps.schemas.get('xtk:session');
  const persistMethods = new Map((session?.methods ?? []).filter((m) => m.interface === 'persist').map((m) => [m.name, m]));

  function resolve(call: SoapCall) {
    const schema = deps.schemas.get(call.schemaId);
    if (!schema) throw SOAP_FAULTS.unknownMethod(call.urn, call.method);
    // xtk:persist methods: through the interface URN, or directly on a schema that implements it.
    const persistMethod = persistMethods.get(call.method);
    if (persistMethod && (call.interfaceName === 'persist' || schema.implementsPersist || schema.id === 'xtk:session')) {
      const handler = deps.handlers[`persist#${call.method}`];
      if (handler) return { schema, method: persistMethod, handler };
    }
    const method = call.interfaceName ? undefined : schema.methods.find((m) => m.name === call.method && !m.interface);
    const handler = method ? deps.handlers[`${schema.id}#${method.name}`] : undefined;
    if (!method || !handler) throw SOAP_FAULTS.unknownMethod(call.urn, call.method);
    return { schema, method, handler };
  }

  return {
    resolve,
    canonicalName(apiName) {
      const action = parseSoapAction(apiName);
      if (!action) return undefined;
      try {
        const { schema, method } = resolve({ urn: action.urn, ...resolveUrn(action.urn), method: action.method, params: [], header: {} });
        return canonicalApi(schema, method);
      } catch {
        return undefined;
      }
    },
    async dispatch(call, request, admit) {
      const { schema, method, handler } = resolve(call);
      const decoded = decodeParams(call, method);
      // Authenticate even anonymous-capable calls that carry credentials (so limits apply per operator).
      const caller: Caller = handler.auth === 'none' && !decoded.sessionToken && !request.headers['authorization']
        ? { kind: 'anonymous' }
        : await deps.authenticator.authenticate(call, decoded.sessionToken, request);
      if (handler.auth === 'operator' && caller.kind !== 'operator') throw CAMPAIGN_FAULTS.sessionExpired();
      if (handler.right && caller.kind === 'operator' && !hasRight(caller.operator, handler.right)) {
        throw CAMPAIGN_FAULTS.accessDenied(caller.operator.login, `call ${call.urn}#${call.method}`);
      }
      await admit?.(caller, { api: canonicalApi(schema, method), decoded });
      const result = await handler.handle({ call, schema, method, decoded, caller, request });
      return Array.isArray(result) ? { outputs: result, method } : { ...result, method };
    },
  };
}
