import { z } from 'zod';
import { errors } from '@cap/platform-errors';
import { attrLocal } from '@cap/campaign-xml';
import type { WorkflowDataAccess } from './workflow-data.access';
import { queryResultToJson, readElement, readQueryDef, readVariables, readWriteDocument, type DocumentArg, type JsonValue } from './workflow-json.xml';
import type { ScriptHost } from './workflow-script.sandbox';
import type { HostOp } from './workflow-script.protocol';

/** A PostEvent a script sends (to its own workflow or another): applied by the engine. */
export interface ScriptPostEvent {
  workflowId: string;
  activity: string;
  transition: string;
  parameters: Record<string, string>;
  complete: boolean;
}

export interface ScriptLogLine {
  level: 'info' | 'warning' | 'error';
  message: string;
}

const documentArg: z.ZodType<DocumentArg> = z.union([z.object({ xml: z.string() }), z.object({ json: z.custom<JsonValue>((v) => v !== undefined) })]);
const variableName = /^[A-Za-z_][A-Za-z0-9_.-]{0,127}$/;

const ARGS = {
  query: documentArg,
  write: z.object({ mode: z.enum(['write', 'writeCollection', 'ingest', 'ingestExt']), doc: documentArg }),
  subscription: z.object({ action: z.enum(['subscribe', 'unsubscribe']), services: z.string().max(4_096), recipient: documentArg, create: z.boolean() }),
  postEvent: z.object({
    workflowId: z.string().min(1).max(200),
    activity: z.string().max(200),
    transition: z.string().max(200),
    variables: documentArg.nullable(),
    complete: z.boolean(),
  }),
  getOption: z.object({ name: z.string().min(1).max(64) }),
} as const;

function parse<T>(schema: z.ZodType<T>, op: HostOp, args: unknown): T {
  const p = schema.safeParse(args);
  if (!p.success) throw errors.invalidRequest(`${op} arguments`, p.error.issues[0]?.message ?? 'rejected');
  return p.data;
}

/**
 * The engine's side of the Campaign JavaScript API (workflow-script.prelude.ts is the script's side): each
 * host call of a script becomes a data request (routed by schema placement), a PostEvent, or an option read.
 * Errors travel back as exceptions the script can catch, with their Campaign code (`e.code`).
 */
export function createScriptHost(deps: {
  data: WorkflowDataAccess;
  postEvent: (event: ScriptPostEvent) => Promise<void>;
  log: (line: ScriptLogLine) => void;
}): ScriptHost {
  return {
    log: (level, message) => deps.log({ level, message }),
    async call(op, args) {
      switch (op) {
        case 'query': {
          const queryDef = readQueryDef(parse(ARGS.query, op, args));
          const result = await deps.data.query(queryDef);
          const schemaId = attrLocal(queryDef, 'schema') ?? '';
          return queryResultToJson(result, attrLocal(queryDef, 'operation') ?? 'select', schemaId.slice(schemaId.indexOf(':') + 1));
        }
        case 'write': {
          const a = parse(ARGS.write, op, args);
          const result = await deps.data.write(a.mode, readWriteDocument(a.doc, a.mode));
          return a.mode === 'ingest' ? result.generatedIds.join(',') : null;
        }
        case 'subscription': {
          const a = parse(ARGS.subscription, op, args);
          await deps.data.subscription({
            action: a.action,
            services: a.services,
            recipient: readElement(a.recipient, 'recipient', 'the recipient'),
            create: a.create,
          });
          return null;
        }
        case 'postEvent': {
          const a = parse(ARGS.postEvent, op, args);
          const parameters = readVariables(a.variables);
          const bad = Object.keys(parameters).find((k) => !variableName.test(k));
          if (bad !== undefined) throw errors.invalidRequest('postEvent arguments', `'${bad.slice(0, 64)}' is not a variable name`);
          await deps.postEvent({ workflowId: a.workflowId, activity: a.activity, transition: a.transition, parameters, complete: a.complete });
          return null;
        }
        case 'getOption':
          return deps.data.getOption(parse(ARGS.getOption, op, args).name);
      }
    },
  };
}
