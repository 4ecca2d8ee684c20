import { parseXml, serializeXml, XmlParseError, type XmlElement } from '@cap/campaign-xml';
import { ErrorCatalogue } from '@cap/platform-errors';
import { DeliveryError } from './delivery.error';
import { checkTemplatePaths, compileTemplate, renderTemplate, type CompiledTemplate } from './personalisation.template';
import { isTemplateError } from './template.error';

/** What a delivery sends: the fields of an nms:delivery template that SubmitDelivery and the message center use. */
export interface DeliveryDefinition {
  label: string;
  /** nms:delivery:messageType: 0 email, 1 SMS. */
  messageType: number;
  /** Channel adapter name (`file`, `smtp`); empty: the deployment's default. */
  routing: string;
  subject: string;
  senderAddress: string;
  /** The personalisable body (HTML or text). */
  content: string;
  /** Target definition (XML text of a `<targets>` element); empty: every recipient. */
  targets: string;
}

/** A definition whose personalised parts are compiled (once per delivery or per template). */
export interface PreparedDelivery {
  definition: DeliveryDefinition;
  subject: CompiledTemplate;
  content: CompiledTemplate;
}

const IGNORED_ATTRIBUTES = new Set(['xtkschema', '_operation', '_key', 'id', 'internalName', 'isModel', 'state', 'created', 'lastModified', 'eventType']);

/**
 * Merges SubmitDelivery's content fragment (`<delivery label="…"><mailParameters subject="…"/><content>…</content>
 * <targets>…</targets></delivery>`, any root name) into the template's definition: what the fragment gives
 * replaces the template's. Identity fields (id, internal name, template flag, state) are the platform's and
 * ignored; any other unknown field is refused, so a typo is not silently dropped.
 */
export function mergeDeliveryFragment(template: DeliveryDefinition, fragment: XmlElement | undefined): DeliveryDefinition {
  const merged: DeliveryDefinition = { ...template };
  if (!fragment) return merged;
  const bad = (what: string) => new DeliveryError(ErrorCatalogue.DELIVERY_BAD_FRAGMENT, `SubmitDelivery content: ${what}`);
  for (const [name, value] of Object.entries(fragment.attrs)) {
    if (name === 'xmlns' || name.includes(':') || IGNORED_ATTRIBUTES.has(name)) continue;
    if (name === 'label') merged.label = value;
    else if (name === 'routing') merged.routing = value.trim();
    else if (name === 'messageType') {
      const n = Number(value === 'email' ? 0 : value === 'sms' ? 1 : value);
      if (n !== 0 && n !== 1) throw bad(`messageType '${value}' is not a channel (0 email, 1 sms)`);
      merged.messageType = n;
    } else throw bad(`'@${name}' is not a delivery field that can be merged (label, messageType, routing, mailParameters, content, targets)`);
  }
  for (const child of fragment.children) {
    if (child.local === 'mailParameters') {
      for (const [name, value] of Object.entries(child.attrs)) {
        if (name === 'xmlns' || name.includes(':')) continue;
        if (name === 'subject') merged.subject = value;
        else if (name === 'senderAddress') merged.senderAddress = value;
        else throw bad(`'mailParameters/@${name}' is not a field (subject, senderAddress)`);
      }
    } else if (child.local === 'content') {
      merged.content = child.text;
    } else if (child.local === 'targets') {
      // Given as elements (the SDK's DOM), or as XML text (the memo as stored).
      merged.targets = child.children.length > 0 ? serializeXml(child, { plain: true }) : child.text.trim();
    } else if (child.local !== 'properties' && child.local !== 'folder') {
      throw bad(`<${child.local}> is not a delivery element that can be merged (mailParameters, content, targets)`);
    }
  }
  return merged;
}

/**
 * Compiles a definition's subject and content and checks their paths: `recipientFields` are the paths a
 * recipient has (schema fields), `freeRoots` the roots whose data is free-form (ctx for events).
 * Throws DeliveryError DELIVERY_BAD_PERSONALISATION (naming the part) or DELIVERY_NOTHING_TO_SEND (no content).
 */
export function prepareDelivery(
  definition: DeliveryDefinition,
  known: { fields: Readonly<Record<string, ReadonlySet<string>>>; freeRoots: readonly string[] },
): PreparedDelivery {
  if (definition.content.trim() === '')
    throw new DeliveryError(ErrorCatalogue.DELIVERY_NOTHING_TO_SEND, 'the delivery has no content to send (give <content> in the template or the fragment)');
  const compile = (part: 'subject' | 'content', source: string) => {
    try {
      const template = compileTemplate(source);
      checkTemplatePaths(template, known);
      return template;
    } catch (err) {
      if (isTemplateError(err)) throw new DeliveryError(ErrorCatalogue.DELIVERY_BAD_PERSONALISATION, `personalisation of the ${part}: ${err.message}`);
      throw err;
    }
  };
  return { definition, subject: compile('subject', definition.subject), content: compile('content', definition.content) };
}

/**
 * The target of a delivery as queryDef where clauses on nms:recipient. Accepted forms of `<targets>`:
 * a `<where>` child, or Campaign's `<deliveryTarget><targetPart type="query"><where>…</where></targetPart>…`;
 * several parts are alternatives (OR). Empty: every recipient. Exclusion parts are not supported.
 */
export function readTargetConditions(targets: string): XmlElement[] {
  if (targets.trim() === '') return [];
  let root: XmlElement;
  try {
    root = parseXml(targets, { limits: { maxDepth: 32, maxElements: 10_000 } });
  } catch (err) {
    throw new DeliveryError(
      ErrorCatalogue.DELIVERY_BAD_TARGET,
      `the target definition is not well-formed XML: ${err instanceof XmlParseError ? err.message : 'unreadable'}`,
    );
  }
  if (root.local !== 'targets')
    throw new DeliveryError(ErrorCatalogue.DELIVERY_BAD_TARGET, `the target definition must be a <targets> element, not <${root.local}>`);
  const wheres: XmlElement[] = [];
  for (const child of root.children) {
    if (child.local === 'where') wheres.push(child);
    else if (child.local === 'deliveryTarget') {
      for (const part of child.children.filter((c) => c.local === 'targetPart')) {
        if (part.attrs['exclusion'] === 'true' || part.attrs['exclusion'] === '1')
          throw new DeliveryError(ErrorCatalogue.DELIVERY_BAD_TARGET, 'exclusion target parts are not supported: put the condition in the where clause');
        if ((part.attrs['type'] ?? 'query') !== 'query')
          throw new DeliveryError(ErrorCatalogue.DELIVERY_BAD_TARGET, `target parts of type '${part.attrs['type']}' are not supported (only 'query')`);
        if ((part.attrs['ignored'] ?? 'false') === 'true') continue;
        const where = part.children.find((c) => c.local === 'where');
        if (where) wheres.push(where);
      }
    } else if (child.local === 'externalSource' || root.attrs['fromExternalSource'] === 'true') {
      throw new DeliveryError(
        ErrorCatalogue.DELIVERY_BAD_TARGET,
        'external-source targets (fromExternalSource) are not supported: target recipients with a where clause',
      );
    } else throw new DeliveryError(ErrorCatalogue.DELIVERY_BAD_TARGET, `<targets> may contain <where> or <deliveryTarget>, not <${child.local}>`);
  }
  for (const where of wheres) {
    const schema = where.attrs['filteringSchema'];
    if (schema && schema !== 'nms:recipient') throw new DeliveryError(ErrorCatalogue.DELIVERY_BAD_TARGET, `only nms:recipient can be targeted, not ${schema}`);
  }
  return wheres;
}

export type RenderOutcome = { ok: true; subject: string; body: string } | { ok: false; reason: string };

/**
 * Renders one message. The content is HTML-escaped for email (`<%== … %>` writes a value as is), plain for SMS;
 * the subject is plain text. A value that cannot be rendered fails this message only, with the reason.
 */
export function renderDeliveryMessage(prepared: PreparedDelivery, data: Readonly<Record<string, unknown>>): RenderOutcome {
  try {
    const body = renderTemplate(prepared.content, data, { escape: prepared.definition.messageType === 0 ? 'html' : 'none' });
    const subject = renderTemplate(prepared.subject, data, { escape: 'none' });
    return { ok: true, subject, body };
  } catch (err) {
    if (isTemplateError(err)) return { ok: false, reason: `Personalisation error: ${err.message}` };
    throw err;
  }
}
