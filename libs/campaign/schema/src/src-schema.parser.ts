import { attrLocal, parseXml, XmlParseError, type XmlElement } from '@cap/campaign-xml';
import type { SchemaProblem } from './schema.errors';
import { XTK_TYPES, type XtkType } from './schema.model';
import { isIdentifier } from './naming';

/** A srcSchema as written in one file, before extensions are merged and links resolved. */
export interface SrcSchema {
  file: string;
  line: number;
  namespace: string;
  name: string;
  /** `ns:name` of the schema this one extends (`extendedSchema`), if any. */
  extends?: string;
  label?: string;
  labelSingular?: string;
  implementsPersist: boolean;
  placement?: 'local' | 'replicated' | 'cloud';
  mainElement?: SrcElement;
  enumerations: SrcEnumeration[];
  methods: SrcMethod[];
}

export interface SrcElement {
  name: string;
  line: number;
  label?: string;
  sqltable?: string;
  autopk: boolean;
  autouuid: boolean;
  autoStg: boolean;
  dataSource?: string;
  placement?: 'local' | 'replicated' | 'cloud';
  attributes: SrcAttribute[];
  links: SrcLink[];
  keys: SrcKey[];
  /** Rights named by `<sysFilter name="writeAccess">` conditions (see readSysFilter). */
  writeRights: string[];
}

export interface SrcAttribute {
  name: string;
  path: string[];
  isElement: boolean;
  type: XtkType;
  length?: number;
  enum?: string;
  default?: string;
  /** Campaign's `defOnDuplicate`: a duplicate (xtk:persist#Duplicate) takes the default, not the original's value. */
  defOnDuplicate?: boolean;
  notNull: boolean;
  label?: string;
  sqlname?: string;
  line: number;
}

export interface SrcLink {
  name: string;
  target: string;
  collection: boolean;
  revLink?: string;
  joins: { src: string; dst: string }[];
  label?: string;
  line: number;
}

export interface SrcKey {
  name: string;
  internal: boolean;
  fields: string[];
  line: number;
}

export interface SrcEnumeration {
  name: string;
  basetype: XtkType;
  default?: string;
  label?: string;
  values: { name: string; value: string; label: string }[];
  line: number;
}

export interface SrcMethod {
  name: string;
  static: boolean;
  const: boolean;
  interface?: string;
  params: { name: string; type: string; inout: 'in' | 'out' | 'inout'; desc?: string }[];
  line: number;
}

const PLACEMENTS = ['local', 'replicated', 'cloud'] as const;
const CLOUD_DATA_SOURCE = 'nms:extAccount:ffda';
const SCHEMA_ID = /^[a-z][a-zA-Z0-9]*:[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Parses one srcSchema file. Problems are appended to `problems` (file, line, attribute, reason) so a caller
 * can report every mistake of every file at once; returns undefined when the file cannot be used at all.
 */
export function parseSrcSchema(file: string, text: string, problems: SchemaProblem[]): SrcSchema | undefined {
  let root: XmlElement;
  try {
    root = parseXml(text, { source: file });
  } catch (err) {
    const e = err as XmlParseError;
    problems.push({ file, line: e.line ?? 1, message: `not well-formed XML: ${e.message.replace(/^.*?:\d+:\d+: /, '')}` });
    return undefined;
  }
  const problem = (el: XmlElement, message: string, attribute?: string) => problems.push({ file, line: el.line, message, ...(attribute ? { attribute } : {}) });

  if (root.local !== 'srcSchema') {
    problem(root, `root element must be <srcSchema>, not <${root.name}>`);
    return undefined;
  }
  const namespace = attrLocal(root, 'namespace') ?? '';
  const name = attrLocal(root, 'name') ?? '';
  if (!/^[a-z][a-zA-Z0-9]*$/.test(namespace)) problem(root, 'must be a lower-case identifier (e.g. "cus")', 'namespace');
  if (!isIdentifier(name)) problem(root, 'must be an identifier (letters, digits, underscore)', 'name');
  const extendsId = attrLocal(root, 'extendedSchema');
  if (extendsId !== undefined && !SCHEMA_ID.test(extendsId)) problem(root, `'${extendsId}' is not a schema id like "nms:recipient"`, 'extendedSchema');
  const placement = readPlacement(root, problem);

  const src: SrcSchema = {
    file,
    line: root.line,
    namespace,
    name,
    implementsPersist: attrLocal(root, 'implements') === 'xtk:persist',
    enumerations: [],
    methods: [],
    ...(extendsId ? { extends: extendsId } : {}),
    ...(placement ? { placement } : {}),
    ...optional('label', attrLocal(root, 'label')),
    ...optional('labelSingular', attrLocal(root, 'labelSingular')),
  };

  for (const child of root.children) {
    switch (child.local) {
      case 'enumeration':
        src.enumerations.push(readEnumeration(child, problem));
        break;
      case 'element':
        if (src.mainElement) problem(child, 'a schema has one main <element>; nest the others inside it');
        else src.mainElement = readMainElement(child, problem);
        break;
      case 'methods':
        for (const m of child.children) if (m.local === 'method') src.methods.push(readMethod(m, problem));
        break;
      case 'interface': {
        const iface = attrLocal(child, 'name');
        if (!iface) problem(child, 'an <interface> needs a name', 'name');
        for (const m of child.children) if (m.local === 'method') src.methods.push({ ...readMethod(m, problem), ...(iface ? { interface: iface } : {}) });
        break;
      }
      default:
        problem(child, `unknown element <${child.name}> in <srcSchema>`);
    }
  }
  if (src.mainElement && src.mainElement.name !== name) {
    problem(root, `the main element must be named like the schema ('${name}'), not '${src.mainElement.name}'`);
  }
  return src;
}

function optional<K extends string>(key: K, value: string | undefined): { [P in K]?: string } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: string };
}

type Problem = (el: XmlElement, message: string, attribute?: string) => void;

function readPlacement(el: XmlElement, problem: Problem): 'local' | 'replicated' | 'cloud' | undefined {
  const value = attrLocal(el, 'placement');
  if (value === undefined) return undefined;
  if ((PLACEMENTS as readonly string[]).includes(value)) return value as 'local' | 'replicated' | 'cloud';
  problem(el, `'${value}' is not one of ${PLACEMENTS.join(', ')}`, 'placement');
  return undefined;
}

function readBool(el: XmlElement, name: string, problem: Problem): boolean {
  const value = attrLocal(el, name);
  if (value === undefined) return false;
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  problem(el, `'${value}' is not true or false`, name);
  return false;
}

function readType(el: XmlElement, problem: Problem, fallback: XtkType): XtkType {
  const value = attrLocal(el, 'type');
  if (value === undefined) return fallback;
  if ((XTK_TYPES as readonly string[]).includes(value)) return value as XtkType;
  problem(el, `unknown type '${value}' (one of ${XTK_TYPES.join(', ')})`, 'type');
  return fallback;
}

function readEnumeration(el: XmlElement, problem: Problem): SrcEnumeration {
  const name = attrLocal(el, 'name') ?? '';
  if (!isIdentifier(name)) problem(el, 'an <enumeration> needs an identifier name', 'name');
  const values = el.children
    .filter((c) => c.local === 'value')
    .map((v) => {
      const valueName = attrLocal(v, 'name') ?? '';
      if (!valueName) problem(v, 'a <value> needs a name', 'name');
      const value = attrLocal(v, 'value') ?? valueName;
      return { name: valueName, value, label: attrLocal(v, 'label') ?? valueName };
    });
  return {
    name,
    basetype: readType({ ...el, attrs: { type: attrLocal(el, 'basetype') ?? 'string' } }, (e, m) => problem(el, m, 'basetype'), 'string'),
    values,
    line: el.line,
    ...optional('default', attrLocal(el, 'default')),
    ...optional('label', attrLocal(el, 'label')),
  };
}

function readMainElement(el: XmlElement, problem: Problem): SrcElement {
  const name = attrLocal(el, 'name') ?? '';
  if (!isIdentifier(name)) problem(el, 'the main <element> needs an identifier name', 'name');
  const placement = readPlacement(el, problem);
  const dataSource = attrLocal(el, 'dataSource');
  const out: SrcElement = {
    name,
    line: el.line,
    autopk: readBool(el, 'autopk', problem),
    autouuid: readBool(el, 'autouuid', problem),
    autoStg: readBool(el, 'autoStg', problem),
    attributes: [],
    links: [],
    keys: [],
    writeRights: [],
    ...(placement ? { placement } : {}),
    ...optional('label', attrLocal(el, 'label')),
    ...optional('sqltable', attrLocal(el, 'sqltable')),
    ...optional('dataSource', dataSource),
  };
  if (dataSource !== undefined && dataSource !== CLOUD_DATA_SOURCE) problem(el, `only '${CLOUD_DATA_SOURCE}' (the cloud database) is supported`, 'dataSource');
  readElementBody(el, [], out, problem);
  return out;
}

function readElementBody(el: XmlElement, path: string[], out: SrcElement, problem: Problem): void {
  for (const child of el.children) {
    const childName = attrLocal(child, 'name') ?? '';
    switch (child.local) {
      case 'attribute': {
        if (!isIdentifier(childName)) {
          problem(child, 'an <attribute> needs an identifier name', 'name');
          break;
        }
        out.attributes.push(readAttribute(child, childName, path, false, problem));
        break;
      }
      case 'key': {
        const fields = child.children.filter((k) => k.local === 'keyfield').map((k) => attrLocal(k, 'xpath') ?? '');
        if (!isIdentifier(childName)) problem(child, 'a <key> needs an identifier name', 'name');
        if (fields.length === 0 || fields.some((f) => !f)) problem(child, 'a <key> needs <keyfield xpath="…"/> children');
        out.keys.push({ name: childName, internal: readBool(child, 'internal', problem), fields, line: child.line });
        break;
      }
      case 'element': {
        if (!isIdentifier(childName)) {
          problem(child, 'an <element> needs an identifier name', 'name');
          break;
        }
        const type = attrLocal(child, 'type');
        if (type === 'link') {
          if (path.length > 0) problem(child, 'links must be declared directly under the main element');
          const target = attrLocal(child, 'target') ?? '';
          if (!SCHEMA_ID.test(target)) problem(child, `'${target}' is not a schema id like "xtk:folder"`, 'target');
          const joins = child.children
            .filter((j) => j.local === 'join')
            .map((j) => ({ src: attrLocal(j, 'xpath-src') ?? '', dst: attrLocal(j, 'xpath-dst') ?? '' }));
          if (joins.some((j) => !j.src || !j.dst)) problem(child, 'a <join> needs xpath-src and xpath-dst');
          out.links.push({
            name: childName,
            target,
            collection: readBool(child, 'unbound', problem),
            joins,
            line: child.line,
            ...optional('revLink', attrLocal(child, 'revLink')),
            ...optional('label', attrLocal(child, 'label')),
          });
        } else if (type !== undefined) {
          // A text element holding a value (<comment>…</comment>): memo by default.
          out.attributes.push(readAttribute(child, childName, path, true, problem));
        } else {
          readElementBody(child, [...path, childName], out, problem);
        }
        break;
      }
      case 'sysFilter':
        if (path.length > 0) problem(child, 'a <sysFilter> belongs to the main <element>');
        else readSysFilter(child, out, problem);
        break;
      case 'compute-string':
      case 'help':
        break; // presentation-only Campaign elements: accepted, not used by the API tier
      default:
        problem(child, `unknown element <${child.name}> in <element>`);
    }
  }
}

/** `hasNamedRight('admin')=false`: the condition of a write filter that refuses operators without that right. */
const LACKS_RIGHT = /^\s*hasNamedRight\(\s*'([A-Za-z][A-Za-z0-9_]*)'\s*\)\s*=\s*false\s*$/i;

/**
 * Campaign's system filters. `writeAccess` with conditions `enabledIf="hasNamedRight('x')=false" expr="FALSE"`
 * (the documented form: operators without right x may not write) adds x to the rights writers need; a
 * condition with `expr="TRUE"` filters nothing. Any other form — another condition, or a `readAccess` filter,
 * which this API tier does not apply to reads — is refused when the schema loads, so that no access rule is
 * ever silently ignored.
 */
function readSysFilter(el: XmlElement, out: SrcElement, problem: Problem): void {
  const name = attrLocal(el, 'name');
  if (name !== 'writeAccess') {
    problem(el, `only <sysFilter name="writeAccess"> is supported (reads are not filtered), not '${name ?? ''}'`, 'name');
    return;
  }
  const conditions = el.children.filter((c) => c.local === 'condition');
  if (conditions.length === 0) problem(el, 'a writeAccess <sysFilter> needs <condition enabledIf="hasNamedRight(\'…\')=false" expr="FALSE"/>');
  for (const condition of conditions) {
    const expr = (attrLocal(condition, 'expr') ?? '').trim().toUpperCase();
    if (expr === 'TRUE') continue;
    const right = LACKS_RIGHT.exec(attrLocal(condition, 'enabledIf') ?? '')?.[1];
    if (expr !== 'FALSE' || !right) {
      problem(condition, `unsupported writeAccess condition: use enabledIf="hasNamedRight('<right>')=false" with expr="FALSE"`, 'enabledIf');
      continue;
    }
    if (!out.writeRights.includes(right)) out.writeRights.push(right);
  }
}

function readAttribute(el: XmlElement, name: string, path: string[], isElement: boolean, problem: Problem): SrcAttribute {
  const lengthText = attrLocal(el, 'length');
  let length: number | undefined;
  if (lengthText !== undefined) {
    length = Number(lengthText);
    if (!Number.isInteger(length) || length <= 0 || length > 65_535) {
      problem(el, `'${lengthText}' is not a length between 1 and 65535`, 'length');
      length = undefined;
    }
  }
  const sqlname = attrLocal(el, 'sqlname');
  if (sqlname !== undefined && !isIdentifier(sqlname)) problem(el, `'${sqlname}' is not a valid column name`, 'sqlname');
  return {
    name,
    path,
    isElement,
    type: readType(el, problem, isElement ? 'memo' : 'string'),
    notNull: readBool(el, 'notNull', problem),
    line: el.line,
    ...(length === undefined ? {} : { length }),
    ...optional('enum', attrLocal(el, 'enum')),
    ...optional('default', attrLocal(el, 'default')),
    ...(readBool(el, 'defOnDuplicate', problem) ? { defOnDuplicate: true } : {}),
    ...optional('label', attrLocal(el, 'label')),
    ...optional('sqlname', sqlname),
  };
}

const PARAM_TYPES = new Set(['string', 'boolean', 'byte', 'short', 'long', 'int64', 'datetime', 'date', 'DOMElement', 'DOMDocument', 'primarykey']);

function readMethod(el: XmlElement, problem: Problem): SrcMethod {
  const name = attrLocal(el, 'name') ?? '';
  if (!isIdentifier(name)) problem(el, 'a <method> needs an identifier name', 'name');
  const params: SrcMethod['params'] = [];
  for (const p of el.children.find((c) => c.local === 'parameters')?.children ?? []) {
    if (p.local !== 'param') continue;
    const pname = attrLocal(p, 'name') ?? '';
    const type = attrLocal(p, 'type') ?? 'string';
    const inout = attrLocal(p, 'inout') ?? 'in';
    if (!isIdentifier(pname)) problem(p, 'a <param> needs an identifier name', 'name');
    // The SDK reads types literally and lower-case: 'Boolean' breaks it (docs/campaign-api.md#schemas-and-methods).
    if (!PARAM_TYPES.has(type) && !/^[a-z][a-zA-Z]*$/.test(type)) problem(p, `unknown parameter type '${type}'`, 'type');
    if (inout !== 'in' && inout !== 'out' && inout !== 'inout') problem(p, `'${inout}' is not in, out or inout`, 'inout');
    const desc = attrLocal(p, 'desc');
    params.push({ name: pname, type, inout: inout as 'in' | 'out' | 'inout', ...(desc ? { desc } : {}) });
  }
  return { name, static: readBool(el, 'static', problem), const: readBool(el, 'const', problem), params, line: el.line };
}
