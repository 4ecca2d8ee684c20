import { compileQueryDef, isQueryError } from '@cap/campaign-query';
import type { Schema } from '@cap/campaign-schema';
import { attrLocal, element, parseXml, serializeXml, XmlParseError, type XmlElement } from '@cap/campaign-xml';
import { ConditionSyntaxError, parseCondition } from './workflow-condition.parser';
import { bindWhereVariables, hasWhereVariables } from './workflow-query.variables';
import { DEFINITION_CODES, type DefinitionCode } from './workflow.faults';
import type { Activity, ActivityType, DefinitionProblem, DefinitionResult, Transition } from './workflow.model';

/**
 * A workflow definition: the `activities` memo of xtk:workflow, parsed and checked before a run starts.
 *
 *   <activities>
 *     <start name="start"><transition target="signal"/></start>
 *     <external name="signal" label="Signal"><transition target="end"/></external>
 *     <end name="end"/>
 *   </activities>
 *
 * Activity elements (case-insensitive): start, end, external (alias externalSignal), wait (delay="seconds"),
 * fork, andjoin (alias andJoin), test (condition="…", transitions named "true" and optionally "false"), and the
 * activities that do work: js (alias javascript; `<script>` child), query (schema="…", `<where>` child) and
 * updateData (aliases update-data, ingest; `<field xpath value/>` children for the inbound population, or a
 * `<data>` child with the records to write) and delivery (template="…": a delivery action sent to the inbound
 * population, its own `<where>`, or the template's target). Transitions are `<transition name="…" target="…"/>` children,
 * directly or inside `<transitions>` — where any element with a target counts, as in Campaign's exports
 * (`<transitions><done name="done" target="end"/></transitions>`); other children are ignored.
 */

/** Activities that do work outside the engine's transaction (claimed, run, then completed: apps/cloud-executor/src/workflow/workflow.engine.ts). */
export const WORK_ACTIVITY_TYPES: readonly ActivityType[] = ['js', 'query', 'update', 'delivery'];

export function isWorkActivity(type: string): boolean {
  return (WORK_ACTIVITY_TYPES as readonly string[]).includes(type);
}

const TYPE_ALIASES: Record<string, ActivityType> = {
  start: 'start',
  end: 'end',
  external: 'external',
  externalsignal: 'external',
  wait: 'wait',
  fork: 'fork',
  andjoin: 'andjoin',
  test: 'test',
  js: 'js',
  javascript: 'js',
  query: 'query',
  updatedata: 'update',
  'update-data': 'update',
  ingest: 'update',
  delivery: 'delivery',
};

const SUPPORTED = 'start, end, external, wait, fork, andjoin, test, js, query, updateData, delivery';

export const DEFINITION_LIMITS = {
  maxActivities: 500,
  maxTransitionsPerActivity: 50,
  /** One year. */
  maxDelaySeconds: 366 * 24 * 3600,
  maxXmlLength: 1024 * 1024,
  maxScriptLength: 256 * 1024,
  maxRecords: 1_000,
} as const;

const SCHEMA_ID = /^[a-z][A-Za-z0-9]*:[A-Za-z][A-Za-z0-9]*$/;
const FIELD_XPATH = /^@[A-Za-z_][A-Za-z0-9_-]*$/;

export interface DefinitionOptions {
  /** The compiled schemas: query and update activities are then checked against them (schema, fields, where). */
  schemas?: ReadonlyMap<string, Schema>;
}

const ACTIVITY_NAME = /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/;

/** Parses and validates a definition; every problem found is listed (the first decides the fault code). */
export function parseWorkflowDefinition(xml: string, options: DefinitionOptions = {}): DefinitionResult {
  const problems: DefinitionProblem[] = [];
  const problem = (code: DefinitionCode, message: string, activity?: string) => problems.push({ code, message, ...(activity ? { activity } : {}) });
  if (xml.trim() === '') return fail(DEFINITION_CODES.malformed, 'the workflow has no activities');
  let root: XmlElement;
  try {
    root = parseXml(xml, { source: 'activities', limits: { maxLength: DEFINITION_LIMITS.maxXmlLength, maxDepth: 16 } });
  } catch (err) {
    if (err instanceof XmlParseError) return fail(DEFINITION_CODES.malformed, `the activities are not well-formed XML (${err.message})`);
    throw err;
  }
  if (root.local !== 'activities') return fail(DEFINITION_CODES.malformed, `the definition's root element is <${root.local}>, expected <activities>`);
  if (root.children.length === 0) return fail(DEFINITION_CODES.malformed, 'the workflow has no activities');
  if (root.children.length > DEFINITION_LIMITS.maxActivities)
    return fail(DEFINITION_CODES.malformed, `the workflow has more than ${DEFINITION_LIMITS.maxActivities} activities`);

  const activities: Activity[] = [];
  const byName = new Map<string, Activity>();
  const rejected = new Set<string>(); // activities already reported: transitions to them are not reported again
  for (const el of root.children) {
    const type = Object.hasOwn(TYPE_ALIASES, el.local.toLowerCase()) ? TYPE_ALIASES[el.local.toLowerCase()] : undefined;
    const name = attrLocal(el, 'name') ?? '';
    const where = `line ${el.line}`;
    if (!type) {
      rejected.add(name);
      problem(
        DEFINITION_CODES.unknownActivityType,
        `unknown activity type <${el.local.slice(0, 64)}>${name ? ` ('${name.slice(0, 64)}')` : ''} (${where}); supported: ${SUPPORTED}`,
        name || undefined,
      );
      continue;
    }
    if (!ACTIVITY_NAME.test(name)) {
      problem(DEFINITION_CODES.invalidActivity, `the <${el.local}> activity at ${where} needs a name of letters, digits, '_' or '-' (up to 64 characters)`);
      continue;
    }
    if (byName.has(name)) {
      problem(DEFINITION_CODES.invalidActivity, `two activities are named '${name}'`, name);
      continue;
    }
    const transitionEls = [
      ...el.children.filter((c) => c.local === 'transition'),
      ...el.children
        .filter((c) => c.local === 'transitions')
        .flatMap((t) => t.children.filter((c) => c.local === 'transition' || attrLocal(c, 'target') !== undefined)),
    ];
    if (transitionEls.length > DEFINITION_LIMITS.maxTransitionsPerActivity) {
      problem(DEFINITION_CODES.invalidActivity, `activity '${name}' has more than ${DEFINITION_LIMITS.maxTransitionsPerActivity} transitions`, name);
      continue;
    }
    const transitions: Transition[] = [];
    const transitionNames = new Set<string>();
    transitionEls.forEach((t, index) => {
      const target = attrLocal(t, 'target') ?? '';
      const tname = attrLocal(t, 'name') ?? (t.local === 'transition' ? '' : t.local);
      if (target === '') {
        problem(DEFINITION_CODES.danglingTransition, `a transition of activity '${name}' has no target`, name);
        return;
      }
      if (tname !== '') {
        if (transitionNames.has(tname)) problem(DEFINITION_CODES.invalidActivity, `activity '${name}' has two transitions named '${tname}'`, name);
        transitionNames.add(tname);
      }
      transitions.push({ name: tname, target, key: `${name}#${index}` });
    });
    const activity: Activity = { name, type, label: attrLocal(el, 'label') ?? name, transitions };
    if (type === 'wait') {
      const raw = attrLocal(el, 'delay') ?? attrLocal(el, 'duration') ?? '';
      const delay = /^\d+(\.\d+)?$/.test(raw.trim()) ? Number(raw) : NaN;
      if (!Number.isFinite(delay) || delay > DEFINITION_LIMITS.maxDelaySeconds) {
        problem(
          DEFINITION_CODES.invalidActivity,
          `wait activity '${name}' needs delay="seconds" (a number from 0 to ${DEFINITION_LIMITS.maxDelaySeconds}), got '${raw.slice(0, 40)}'`,
          name,
        );
      } else activity.delaySeconds = delay;
    }
    if (type === 'test') {
      const text = attrLocal(el, 'condition') ?? attrLocal(el, 'expr') ?? '';
      try {
        activity.condition = parseCondition(text);
        activity.conditionText = text;
      } catch (err) {
        if (!(err instanceof ConditionSyntaxError)) throw err;
        problem(DEFINITION_CODES.invalidActivity, `test activity '${name}': invalid condition: ${err.message}`, name);
      }
      const names = transitions.map((t) => t.name);
      if (!names.includes('true')) problem(DEFINITION_CODES.invalidActivity, `test activity '${name}' needs a transition named "true"`, name);
      const other = names.find((n) => n !== 'true' && n !== 'false');
      if (other !== undefined)
        problem(
          DEFINITION_CODES.invalidActivity,
          `test activity '${name}' has a transition named '${other}'; its transitions are named "true" and "false"`,
          name,
        );
    }
    if (type === 'js') readScript(el, activity, problem);
    if (type === 'query') readQuery(el, activity, problem, options.schemas);
    if (type === 'update') readUpdate(el, activity, problem, options.schemas);
    if (type === 'delivery') readDelivery(el, activity, problem, options.schemas);
    if (type === 'end' && transitions.length > 0) problem(DEFINITION_CODES.invalidActivity, `end activity '${name}' cannot have outgoing transitions`, name);
    activities.push(activity);
    byName.set(name, activity);
  }

  // Transitions must lead to activities of this workflow; start activities have no way in.
  const incoming = new Map<string, string[]>();
  for (const a of activities) {
    for (const t of a.transitions) {
      const target = byName.get(t.target);
      if (!target) {
        if (rejected.has(t.target)) continue;
        problem(
          DEFINITION_CODES.danglingTransition,
          `activity '${a.name}' has a transition to '${t.target.slice(0, 64)}', which is not an activity of this workflow`,
          a.name,
        );
        continue;
      }
      if (target.type === 'start')
        problem(
          DEFINITION_CODES.invalidActivity,
          `activity '${a.name}' has a transition to start activity '${target.name}'; start activities have no incoming transitions`,
          a.name,
        );
      incoming.set(target.name, [...(incoming.get(target.name) ?? []), t.key]);
    }
  }
  const starts = activities.filter((a) => a.type === 'start');
  if (starts.length === 0) problem(DEFINITION_CODES.noPath, 'the workflow has no start activity');
  else if (problems.length === 0 && !reachesEnd(starts, byName)) {
    problem(DEFINITION_CODES.noPath, 'no end activity can be reached from the start activities');
  }
  for (const a of activities) {
    if (a.type === 'andjoin' && (incoming.get(a.name)?.length ?? 0) === 0)
      problem(DEFINITION_CODES.invalidActivity, `and-join '${a.name}' has no incoming transition`, a.name);
  }
  if (problems.length > 0) return { ok: false, problems };
  const joinInputs = new Map(activities.filter((a) => a.type === 'andjoin').map((a) => [a.name, incoming.get(a.name) ?? []] as const));
  return { ok: true, definition: { activities, byName, joinInputs } };

  function fail(code: DefinitionCode, message: string): DefinitionResult {
    return { ok: false, problems: [{ code, message }] };
  }
}

type Report = (code: DefinitionCode, message: string, activity?: string) => void;

function readScript(el: XmlElement, activity: Activity, problem: Report): void {
  const scriptEl = el.children.find((c) => c.local === 'script');
  const script = scriptEl?.text ?? attrLocal(el, 'script') ?? '';
  if (script.trim() === '') problem(DEFINITION_CODES.invalidActivity, `js activity '${activity.name}' needs a <script> with its code`, activity.name);
  else if (script.length > DEFINITION_LIMITS.maxScriptLength)
    problem(
      DEFINITION_CODES.invalidActivity,
      `the script of js activity '${activity.name}' is longer than ${DEFINITION_LIMITS.maxScriptLength} characters`,
      activity.name,
    );
  else activity.script = script;
}

function readQuery(el: XmlElement, activity: Activity, problem: Report, schemas: ReadonlyMap<string, Schema> | undefined): void {
  const schemaId = attrLocal(el, 'schema') ?? '';
  if (!SCHEMA_ID.test(schemaId)) {
    problem(
      DEFINITION_CODES.invalidActivity,
      `query activity '${activity.name}' needs schema="namespace:name" (the cloud schema to target), got '${schemaId.slice(0, 64)}'`,
      activity.name,
    );
    return;
  }
  const whereEl = el.children.find((c) => c.local === 'where');
  activity.query = { schema: schemaId, where: whereEl ? serializeXml(whereEl, { plain: true }) : '' };
  if (!schemas) return;
  const schema = schemas.get(schemaId);
  if (!schema || !schema.persistent || !schema.primaryKey) {
    problem(
      DEFINITION_CODES.invalidActivity,
      `query activity '${activity.name}': ${schema ? `${schemaId} has no records to target` : `unknown schema '${schemaId}'`}`,
      activity.name,
    );
    return;
  }
  if (schema.placement !== 'cloud') {
    problem(
      DEFINITION_CODES.invalidActivity,
      `query activity '${activity.name}': ${schemaId} is not a cloud schema (working tables are built in the cloud database; use a js activity for ${schema.placement} schemas)`,
      activity.name,
    );
    return;
  }
  const compile = (where: XmlElement | undefined) =>
    compileQueryDef(
      element('queryDef', { schema: schemaId, operation: 'select' }, [
        element('select', {}, [element('node', { expr: schema.primaryKey!.xpath })]),
        ...(where ? [where] : []),
      ]),
      schemas,
      {
        database: 'cloud',
      },
    );
  const error = checkWhere(whereEl, compile);
  if (error !== undefined) problem(DEFINITION_CODES.invalidActivity, `query activity '${activity.name}': ${error}`, activity.name);
}

/**
 * Compiles a `<where>` at Start; one using workflow variables (`$(vars/@x)`, bound when the activity runs) is
 * compiled with stand-in values — a number, then a text — and passes if either compiles (their type is only
 * known at run time). Returns the compiler's message when it does not compile.
 */
export function checkWhere(whereEl: XmlElement | undefined, compile: (where: XmlElement | undefined) => unknown): string | undefined {
  const attempts = whereEl && hasWhereVariables(whereEl) ? ['0', 'x'].map((v) => bindWhereVariables(whereEl, () => v).where) : [whereEl];
  let first: string | undefined;
  for (const where of attempts) {
    try {
      compile(where);
      return undefined;
    } catch (err) {
      if (!isQueryError(err)) throw err;
      first ??= err.message;
    }
  }
  return first;
}

const TEMPLATE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/;

/**
 * `<delivery name="…" template="NEWSLETTER" [target="inbound|where|template"] [deliveryLabel="…"]>` with an
 * optional `<where>` (its own target on nms:recipient). The template may also be named as Campaign links it,
 * `<scenario internalName="NEWSLETTER"/>`. Without `target`: `where` when there is a `<where>`, else `inbound`.
 * Whether the template exists is checked when the run starts (the engine asks the delivery module).
 */
function readDelivery(el: XmlElement, activity: Activity, problem: Report, schemas: ReadonlyMap<string, Schema> | undefined): void {
  const name = activity.name;
  const scenario = el.children.find((c) => c.local === 'scenario');
  const template = (attrLocal(el, 'template') ?? (scenario ? attrLocal(scenario, 'internalName') : undefined) ?? '').trim();
  const whereEl = el.children.find((c) => c.local === 'where');
  const targetText = attrLocal(el, 'target') ?? (whereEl ? 'where' : 'inbound');
  const target = (['inbound', 'where', 'template'] as const).find((t) => t === targetText.toLowerCase());
  let ok = true;
  if (!TEMPLATE_NAME.test(template)) {
    problem(
      DEFINITION_CODES.invalidActivity,
      `delivery activity '${name}' needs template="…" (the internal name of an nms:delivery template), got '${template.slice(0, 64)}'`,
      name,
    );
    ok = false;
  }
  if (!target) {
    problem(DEFINITION_CODES.invalidActivity, `delivery activity '${name}': target="${targetText.slice(0, 32)}" is not one of inbound, where, template`, name);
    ok = false;
  } else if (target === 'where' && !whereEl) {
    problem(DEFINITION_CODES.invalidActivity, `delivery activity '${name}': target="where" needs a <where> element`, name);
    ok = false;
  } else if (target !== 'where' && whereEl) {
    problem(DEFINITION_CODES.invalidActivity, `delivery activity '${name}' has a <where> but target="${target}": remove one of them`, name);
    ok = false;
  }
  if (whereEl && schemas?.has('nms:recipient')) {
    const compile = (where: XmlElement | undefined) =>
      compileQueryDef(
        element('queryDef', { schema: 'nms:recipient', operation: 'select' }, [
          element('select', {}, [element('node', { expr: '@id' })]),
          ...(where ? [where] : []),
        ]),
        schemas,
        {
          database: 'cloud',
        },
      );
    const error = checkWhere(whereEl, compile);
    if (error !== undefined) {
      problem(DEFINITION_CODES.invalidActivity, `delivery activity '${name}': ${error}`, name);
      ok = false;
    }
  }
  if (!ok || !target) return;
  const label = attrLocal(el, 'deliveryLabel');
  activity.delivery = { template, target, where: whereEl ? serializeXml(whereEl, { plain: true }) : '', ...(label !== undefined ? { label } : {}) };
}

function readUpdate(el: XmlElement, activity: Activity, problem: Report, schemas: ReadonlyMap<string, Schema> | undefined): void {
  const name = activity.name;
  const modeText = attrLocal(el, 'mode') ?? (el.local.toLowerCase() === 'ingest' ? 'ingest' : 'write');
  const mode = (['write', 'ingest', 'ingestExt'] as const).find((m) => m.toLowerCase() === modeText.toLowerCase());
  const operationText = attrLocal(el, 'operation') ?? (mode === 'ingest' ? 'insert' : 'insertOrUpdate');
  const operation = (['insert', 'insertOrUpdate', 'update', 'delete'] as const).find((o) => o.toLowerCase() === operationText.toLowerCase());
  if (!mode)
    problem(DEFINITION_CODES.invalidActivity, `update activity '${name}': mode="${modeText.slice(0, 32)}" is not one of write, ingest, ingestExt`, name);
  if (!operation)
    problem(
      DEFINITION_CODES.invalidActivity,
      `update activity '${name}': operation="${operationText.slice(0, 32)}" is not one of insert, insertOrUpdate, update, delete`,
      name,
    );
  const dataEl = el.children.find((c) => c.local === 'data');
  const records = dataEl ? dataEl.children : [];
  const fields = el.children
    .filter((c) => c.local === 'field')
    .map((f) => ({ xpath: attrLocal(f, 'xpath') ?? attrLocal(f, 'expr') ?? '', value: attrLocal(f, 'value') ?? '' }));
  const schemaId = attrLocal(el, 'schema');
  if (dataEl) {
    if (records.length === 0) problem(DEFINITION_CODES.invalidActivity, `update activity '${name}': <data> holds no record`, name);
    if (records.length > DEFINITION_LIMITS.maxRecords)
      problem(DEFINITION_CODES.invalidActivity, `update activity '${name}': more than ${DEFINITION_LIMITS.maxRecords} records in <data>`, name);
    for (const r of records) {
      const id = attrLocal(r, 'xtkschema') ?? schemaId;
      if (!id || !SCHEMA_ID.test(id))
        problem(
          DEFINITION_CODES.invalidActivity,
          `update activity '${name}': the record <${r.local}> at line ${r.line} needs xtkschema="namespace:name"`,
          name,
        );
      else if (schemas && !schemas.has(id)) problem(DEFINITION_CODES.invalidActivity, `update activity '${name}': unknown schema '${id}'`, name);
    }
  } else {
    if (!schemaId || !SCHEMA_ID.test(schemaId))
      problem(
        DEFINITION_CODES.invalidActivity,
        `update activity '${name}' needs schema="namespace:name" (the schema written for each inbound record) or a <data> element with the records`,
        name,
      );
    if (fields.length === 0 && operation !== 'delete')
      problem(DEFINITION_CODES.invalidActivity, `update activity '${name}' sets no field: add <field xpath="@name" value="…"/>`, name);
    for (const f of fields)
      if (!FIELD_XPATH.test(f.xpath))
        problem(DEFINITION_CODES.invalidActivity, `update activity '${name}': field xpath '${f.xpath.slice(0, 64)}' must be an attribute (@name)`, name);
    const schema = schemaId && schemas ? schemas.get(schemaId) : undefined;
    if (schemaId && schemas && !schema) problem(DEFINITION_CODES.invalidActivity, `update activity '${name}': unknown schema '${schemaId}'`, name);
    if (schema) {
      for (const f of fields)
        if (!schema.fields.some((x) => x.xpath === f.xpath))
          problem(DEFINITION_CODES.invalidActivity, `update activity '${name}': ${schemaId} has no field ${f.xpath}`, name);
    }
  }
  if (mode && operation) {
    activity.update = {
      mode,
      operation,
      fields,
      records: records.map((r) => {
        const id = attrLocal(r, 'xtkschema') ?? schemaId;
        return serializeXml(id && attrLocal(r, 'xtkschema') === undefined ? { ...r, attrs: { ...r.attrs, xtkschema: id } } : r, { plain: true });
      }),
      ...(schemaId ? { schema: schemaId } : {}),
    };
  }
}

function reachesEnd(starts: Activity[], byName: ReadonlyMap<string, Activity>): boolean {
  const seen = new Set<string>();
  const queue = starts.map((s) => s.name);
  while (queue.length > 0) {
    const name = queue.shift()!;
    if (seen.has(name)) continue;
    seen.add(name);
    const a = byName.get(name);
    if (!a) continue;
    if (a.type === 'end') return true;
    for (const t of a.transitions) queue.push(t.target);
  }
  return false;
}
