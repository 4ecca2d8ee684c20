import type { Method, Schema } from '@cap/campaign-schema';
import { decodeParams, parseSoapAction, resolveUrn, SOAP_FAULTS, type DecodedCall, type SoapCall } from '@cap/campaign-soap';
import type { Authenticator, Caller } from '../session/authenticator';
import { hasRight } from '../session/session.model';
import { CAMPAIGN_FAULTS } from './campaign.faults';
import type { CallContext, SoapMethod, SoapMethodResult, SoapMethodTable } from './soap-method';

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
  /** Finds the schema, the declared method and its SOAP method implementation for a call, or throws SOAP_UNKNOWN_METHOD. */
  resolve(call: SoapCall): { schema: Schema; method: Method; soapMethod: SoapMethod };
  /** The canonical API name of `urn#Method` as a client may write it; undefined when no such API is served. */
  canonicalName(apiName: string): string | undefined;
  /** Authenticates, authorises and runs the SOAP method. `admit` may refuse (rate limiting) before the method runs. */
  dispatch(
    call: SoapCall,
    request: CallContext['request'],
    admit?: (caller: Caller, resolved: ResolvedCall) => Promise<void>,
  ): Promise<SoapMethodResult & { method: Method }>;
}

/** The canonical API name of a resolved method (see ResolvedCall.api). */
export function canonicalApi(schema: Schema, method: Method): string {
  return method.interface === 'persist' ? `xtk:persist#${method.name}` : `${schema.id}#${method.name}`;
}

export function createDispatcher(deps: { schemas: ReadonlyMap<string, Schema>; soapMethods: SoapMethodTable; authenticator: Authenticator }): Dispatcher {
  const session = deps.schemas.get('xtk:session');
  const persistMethods = new Map((session?.methods ?? []).filter((m) => m.interface === 'persist').map((m) => [m.name, m]));

  function resolve(call: SoapCall) {
    const schema = deps.schemas.get(call.schemaId);
    if (!schema) throw SOAP_FAULTS.unknownMethod(call.urn, call.method);
    // xtk:persist methods: through the interface URN, or directly on a schema that implements it.
    const persistMethod = persistMethods.get(call.method);
    if (persistMethod && (call.interfaceName === 'persist' || schema.implementsPersist || schema.id === 'xtk:session')) {
      const soapMethod = deps.soapMethods[`persist#${call.method}`];
      if (soapMethod) return { schema, method: persistMethod, soapMethod };
    }
    // xtk:jobInterface|<entity schema>: the job methods, declared on xtk:job, run on an entity of that schema.
    if (call.interfaceName === 'jobInterface') {
      const jobMethod = deps.schemas.get('xtk:job')?.methods.find((m) => m.name === call.method);
      const soapMethod = jobMethod ? deps.soapMethods[`xtk:jobInterface#${jobMethod.name}`] : undefined;
      if (!jobMethod || !soapMethod) throw SOAP_FAULTS.unknownMethod(call.urn, call.method);
      return { schema, method: jobMethod, soapMethod };
    }
    const method = call.interfaceName ? undefined : schema.methods.find((m) => m.name === call.method && !m.interface);
    const soapMethod = method ? deps.soapMethods[`${schema.id}#${method.name}`] : undefined;
    if (!method || !soapMethod) throw SOAP_FAULTS.unknownMethod(call.urn, call.method);
    return { schema, method, soapMethod };
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
      const { schema, method, soapMethod } = resolve(call);
      const decoded = decodeParams(call, method);
      // Authenticate even anonymous-capable calls that carry credentials (so limits apply per operator).
      const caller: Caller =
        soapMethod.auth === 'none' && !decoded.sessionToken && !request.headers['authorization']
          ? { kind: 'anonymous' }
          : await deps.authenticator.authenticate(call, decoded.sessionToken, request);
      if (soapMethod.auth === 'operator' && caller.kind !== 'operator') throw CAMPAIGN_FAULTS.sessionExpired();
      if (soapMethod.right && caller.kind === 'operator' && !hasRight(caller.operator, soapMethod.right)) {
        throw CAMPAIGN_FAULTS.accessDenied(caller.operator.login, `call ${call.urn}#${call.method}`);
      }
      await admit?.(caller, { api: canonicalApi(schema, method), decoded });
      const result = await soapMethod.handle({ call, schema, method, decoded, caller, request });
      return Array.isArray(result) ? { outputs: result, method } : { ...result, method };
    },
  };
}
