import { randomBytes } from 'node:crypto';
import type { ScenarioName } from './loadtest.options';
import { buildEnvelope, buildHeaders, documentParam, escapeXml, logonEnvelope, routerPath, type SessionTokens } from './soap.envelope';

/** The single-call scenarios (`mixed` draws from these). */
export type CallKind = Exclude<ScenarioName, 'mixed'>;

/** One request ready to send. */
export interface PreparedCall {
  kind: CallKind;
  /** `urn#Method` as the rate limiter names it. */
  api: string;
  path: string;
  headers: Record<string, string>;
  body: string;
}

export interface Scenario {
  name: ScenarioName;
  /** The APIs this scenario calls, with their share of the requests. */
  mix: { kind: CallKind; api: string; weight: number }[];
  next(): PreparedCall;
}

/** `mixed`: a day of API traffic, mostly reads and staged writes. */
export const MIXED_WEIGHTS: Record<CallKind, number> = { query: 50, ingest: 20, write: 15, pushEvent: 10, logon: 5 };

const APIS: Record<CallKind, { urn: string; method: string; soapAction: string }> = {
  logon: { urn: 'xtk:session', method: 'Logon', soapAction: 'xtk:session#Logon' },
  query: { urn: 'xtk:queryDef', method: 'ExecuteQuery', soapAction: 'xtk:queryDef#ExecuteQuery' },
  write: { urn: 'xtk:persist|xtk:session', method: 'Write', soapAction: 'xtk:persist|xtk:session#Write' },
  ingest: { urn: 'xtk:session', method: 'Ingest', soapAction: 'xtk:session#Ingest' },
  pushEvent: { urn: 'nms:rtEvent', method: 'PushEvent', soapAction: 'nms:rtEvent#PushEvent' },
};

export function apiOf(kind: CallKind): string {
  return APIS[kind].soapAction;
}

/** Unique values: run id + counter + random, so parallel runs and retries never collide. */
export function createUniqueSource(runId = randomBytes(3).toString('hex')): () => string {
  let counter = 0;
  return () => `${runId}-${++counter}-${randomBytes(2).toString('hex')}`;
}

export interface ScenarioDeps {
  /** Base path of the server URL ('' or '/prefix'). */
  basePath: string;
  tokens: SessionTokens;
  user: string;
  password: string;
  unique?: () => string;
  /** For `mixed`: returns a number in [0, 1). */
  random?: () => number;
}

/** Builds the request maker of a scenario. Each call has fresh unique values where the API writes. */
export function createScenario(name: ScenarioName, deps: ScenarioDeps): Scenario {
  const unique = deps.unique ?? createUniqueSource();
  const random = deps.random ?? Math.random;

  const build = (kind: CallKind): PreparedCall => {
    const api = APIS[kind];
    // Logon goes without a session, as the SDK's logon does; everything else carries the session.
    const tokens = kind === 'logon' ? undefined : deps.tokens;
    const body = kind === 'logon' ? logonEnvelope(deps.user, deps.password) : buildEnvelope(api.urn, api.method, paramsOf(kind, unique), tokens);
    return { kind, api: api.soapAction, path: routerPath(deps.basePath, api.soapAction), headers: buildHeaders(api.soapAction, tokens), body };
  };

  if (name !== 'mixed') return { name, mix: [{ kind: name, api: apiOf(name), weight: 1 }], next: () => build(name) };

  const kinds = Object.entries(MIXED_WEIGHTS) as [CallKind, number][];
  const total = kinds.reduce((sum, [, w]) => sum + w, 0);
  return {
    name,
    mix: kinds.map(([kind, weight]) => ({ kind, api: apiOf(kind), weight: weight / total })),
    next() {
      let r = random() * total;
      for (const [kind, weight] of kinds) {
        if ((r -= weight) < 0) return build(kind);
      }
      return build(kinds[0]![0]);
    },
  };
}

function paramsOf(kind: Exclude<CallKind, 'logon'>, unique: () => string): string {
  switch (kind) {
    case 'query':
      // The queryDef is the "this" document of a non-static method (param 2).
      return documentParam(
        'document',
        '<queryDef schema="nms:recipient" operation="select" lineCount="10" xtkschema="xtk:queryDef">' +
          '<select><node expr="@id"/><node expr="@email"/><node expr="@lastName"/></select>' +
          '<orderBy><node expr="@id" sortDesc="true"/></orderBy></queryDef>',
      );
    case 'write': {
      const u = unique();
      return documentParam(
        'doc',
        `<recipient xtkschema="nms:recipient" _operation="insert" email="lt-${escapeXml(u)}@loadtest.example.com" lastName="Load ${escapeXml(u)}"/>`,
      );
    }
    case 'ingest': {
      const u = unique();
      return documentParam(
        'domDoc',
        `<recipientStg xtkschema="nms:recipientStg" email="lt-${escapeXml(u)}@loadtest.example.com" lastName="Staged ${escapeXml(u)}"/>`,
      );
    }
    case 'pushEvent': {
      const u = unique();
      return documentParam(
        'domEvent',
        `<rtEvent type="loadtest" email="lt-${escapeXml(u)}@loadtest.example.com" wishedChannel="0"><ctx><run>${escapeXml(u)}</run></ctx></rtEvent>`,
      );
    }
  }
}
