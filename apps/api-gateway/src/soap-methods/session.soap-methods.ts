import { SERVICES } from '@cap/contracts';
import { schemaToXml, type Schema } from '@cap/campaign-schema';
import { attrLocal, element, parseXml, type XmlElement } from '@cap/campaign-xml';
import type { DatabaseIdCache } from '../database-id.cache';
import type { Downstreams } from '../downstream.client';
import type { ServerIdentity } from '../server.identity';
import type { Authenticator } from '../session/authenticator';
import type { OperatorDirectory } from '../session/operator.directory';
import type { Operator } from '../session/session.model';
import type { SessionStore } from '../session/session.store';
import { CAMPAIGN_FAULTS } from '../soap/campaign.faults';
import type { CallContext, SoapMethodTable } from '../soap/soap-method';

/** Campaign's timestamp text: `2024-01-01 10:00:00.000Z`. */
export function campaignDate(d: Date): string {
  return d.toISOString().replace('T', ' ');
}

const MAX_OPTION_NAME = 64;

const str = (ctx: CallContext, name: string): string => {
  const v = ctx.decoded.values.get(name);
  return typeof v === 'string' ? v : '';
};

/**
 * xtk:session: Logon, BearerTokenLogon, Logoff, GetServerTime, GetUserInfo, GetOption; and the schema
 * download every SDK call starts with (xtk:persist#GetEntityIfMoreRecent).
 */
export function createSessionSoapMethods(deps: {
  schemas: ReadonlyMap<string, Schema>;
  sessions: SessionStore;
  authenticator: Authenticator;
  operators: OperatorDirectory;
  downstreams: Downstreams;
  identity: ServerIdentity;
  databaseId: DatabaseIdCache;
  /** The MD5 of a compiled schema as served (schema-versions.ts): GetEntityIfMoreRecent sends only what changed. */
  schemaDigest?: (id: string) => string | undefined;
  /** The srcSchema entity as written (a schema file's or an authored one's text) and its md5, for xtk:srcSchema|<id>. */
  sourceSchema?: (id: string) => { text: string; md5: string } | undefined;
}): SoapMethodTable {
  const userInfo = (operator: Operator): XmlElement =>
    element(
      'userInfo',
      {
        login: operator.login,
        loginId: operator.id,
        loginCS: `${operator.label || operator.login} (${operator.login})`,
        timezone: operator.timezone,
        instanceLocale: 'en',
        locale: 'en',
        homeDir: '',
        orgUnitId: '0',
        theme: '',
      },
      [
        ...operator.rights.map((right) => element('login-right', { right })),
        element('installed-package', { namespace: 'nms', name: 'core' }),
        element('installed-package', { namespace: 'nms', name: 'campaign' }),
        element('installed-package', { namespace: 'nms', name: 'messageCenter' }),
      ],
    );

  const sessionInfo = async (operator: Operator): Promise<XmlElement> => {
    const { identity } = deps;
    return element('sessionInfo', {}, [
      element('serverInfo', {
        buildNumber: identity.buildNumber,
        majNumber: String(identity.version.major),
        minNumber: String(identity.version.minor),
        servicePack: String(identity.version.servicePack),
        instanceName: identity.instanceName,
        releaseName: `${identity.version.major}.${identity.version.minor}`,
        databaseId: await deps.databaseId.get(),
        serverDate: campaignDate(new Date()),
        sessionTimeOut: String(identity.sessionTimeoutSeconds),
        securityTimeOut: String(identity.sessionTimeoutSeconds),
        allowSQL: 'false',
      }),
      userInfo(operator),
    ]);
  };

  const openSession = async (operator: Operator, rememberMe: boolean) => {
    const issued = await deps.sessions.create(operator, rememberMe);
    return [issued.sessionToken, await sessionInfo(operator), issued.securityToken];
  };

  return {
    'xtk:session#Logon': {
      auth: 'none',
      async handle(ctx) {
        const login = str(ctx, 'login');
        const password = str(ctx, 'password');
        if (!login) throw CAMPAIGN_FAULTS.invalidLogin();
        const params = ctx.decoded.values.get('parameters') as XmlElement | undefined;
        const rememberMe = params ? attrLocal(params, 'rememberMe') === 'true' : false;
        const operator = await deps.operators.authenticate(login, password, { loginToken: false, address: ctx.request.ip, via: 'logon' });
        return openSession(operator, rememberMe);
      },
    },
    'xtk:session#BearerTokenLogon': {
      auth: 'none',
      async handle(ctx) {
        const operator = await deps.authenticator.verifyBearer(str(ctx, 'bearerToken'), ctx.request);
        return openSession(operator, false);
      },
    },
    'xtk:session#Logoff': {
      auth: 'operator',
      async handle(ctx) {
        if (ctx.caller.kind === 'operator' && ctx.caller.sessionToken) await deps.sessions.delete(ctx.caller.sessionToken);
        return [];
      },
    },
    'xtk:session#GetServerTime': {
      auth: 'none',
      handle: async () => [new Date()],
    },
    'xtk:session#GetUserInfo': {
      auth: 'operator',
      handle: async (ctx) => [userInfo((ctx.caller as { operator: Operator }).operator)],
    },
    'xtk:session#GetOption': {
      auth: 'operator',
      async handle(ctx) {
        const name = str(ctx, 'name');
        // No option has a longer name (xtk:option @name is 64 characters): not found, without a round trip.
        if (name.length > MAX_OPTION_NAME) return ['', 0];
        const option = await deps.downstreams.call<{ value: string; type: number }>(SERVICES.localStore, 'option.get', { name });
        return [option.value, option.type];
      },
    },
    'persist#GetEntityIfMoreRecent': {
      auth: 'operator',
      async handle(ctx) {
        // pk is `xtk:schema|nms:recipient` (compiled form) or `xtk:srcSchema|…`; unknown → empty document,
        // which the SDK reads as "not found".
        const pk = str(ctx, 'pk');
        const [entityType, id] = pk.split('|');
        if (entityType === 'xtk:srcSchema' && id && deps.sourceSchema) {
          // The source schema as written, with its own md5 (an extension is its own srcSchema: cus:recipient).
          const source = deps.sourceSchema(id);
          if (!source || str(ctx, 'md5') === source.md5) return [undefined];
          const xml = parseXml(source.text, { source: id });
          return [{ ...xml, attrs: { ...xml.attrs, md5: source.md5 } }];
        }
        if ((entityType === 'xtk:schema' || entityType === 'xtk:srcSchema') && id) {
          const schema = deps.schemas.get(id);
          const md5 = schema ? deps.schemaDigest?.(schema.id) : undefined;
          // The caller holds this very version (its md5): nothing more recent to send.
          if (md5 && str(ctx, 'md5') === md5) return [undefined];
          if (schema) {
            const xml = schemaToXml(schema);
            return [md5 ? { ...xml, attrs: { ...xml.attrs, md5 } } : xml];
          }
        }
        return [undefined];
      },
    },
  };
}
