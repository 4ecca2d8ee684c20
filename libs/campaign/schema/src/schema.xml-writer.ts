import { element, type XmlElement } from '@cap/campaign-xml';
import type { Enumeration, Field, Link, Method, Schema } from './schema.model';

/**
 * The compiled schema as the SDK downloads it (`xtk:schema|<id>` through GetEntityIfMoreRecent,
 * docs/campaign-api.md#schemas-and-methods): namespace/name on the root, `implements="xtk:persist"` for entity schemas,
 * enumerations as direct children, the main element with keys, attributes, nested and link elements, then
 * `<methods>` and `<interface>` blocks whose parameter types are the lower-case names the SDK expects.
 */
export function schemaToXml(schema: Schema): XmlElement {
  const rootAttrs: Record<string, string> = {
    namespace: schema.namespace,
    name: schema.name,
    label: schema.label,
    labelSingular: schema.labelSingular,
    xtkschema: 'xtk:schema',
  };
  if (schema.implementsPersist) rootAttrs['implements'] = 'xtk:persist';
  if (schema.stagingOf) rootAttrs['stagingOf'] = schema.stagingOf;
  const children: XmlElement[] = schema.enumerations.map(enumerationToXml);
  children.push(mainElementToXml(schema));
  const plain = schema.methods.filter((m) => !m.interface);
  if (plain.length > 0) children.push(element('methods', {}, plain.map(methodToXml)));
  const interfaces = [...new Set(schema.methods.filter((m) => m.interface).map((m) => m.interface!))];
  for (const name of interfaces) {
    children.push(element('interface', { name }, schema.methods.filter((m) => m.interface === name).map(methodToXml)));
  }
  return element('schema', rootAttrs, children);
}

/** A system enumeration as `getSysEnum` expects it: `<enumeration name basetype default><value …/></enumeration>`. */
export function enumerationToXml(e: Enumeration): XmlElement {
  const attrs: Record<string, string> = { name: e.name, basetype: e.basetype, label: e.label };
  if (e.default !== undefined) attrs['default'] = e.default;
  return element(
    'enumeration',
    attrs,
    e.values.map((v) => element('value', { name: v.name, value: v.value, label: v.label })),
  );
}

function mainElementToXml(schema: Schema): XmlElement {
  const attrs: Record<string, string> = { name: schema.name, label: schema.label };
  if (schema.persistent) attrs['sqltable'] = schema.table;
  if (schema.primaryKey) {
    attrs['autopk'] = 'true';
    if (schema.primaryKey.kind === 'uuid') attrs['autouuid'] = 'true';
  }
  if (schema.autoStg) attrs['autoStg'] = 'true';
  if (schema.placement === 'cloud') attrs['dataSource'] = 'nms:extAccount:ffda';
  const root = element('element', attrs);
  for (const key of schema.keys) {
    root.children.push(
      element(
        'key',
        { name: key.name, ...(key.internal ? { internal: 'true' } : {}) },
        key.fields.map((xpath) => element('keyfield', { xpath })),
      ),
    );
  }
  const containers = new Map<string, XmlElement>();
  const containerFor = (path: string[]): XmlElement => {
    let parent = root;
    for (let i = 0; i < path.length; i++) {
      const key = path.slice(0, i + 1).join('/');
      let el = containers.get(key);
      if (!el) {
        el = element('element', { name: path[i]! });
        containers.set(key, el);
        parent.children.push(el);
      }
      parent = el;
    }
    return parent;
  };
  // Foreign keys (`@folder-id`) are served as attributes beside their link element, as in Campaign's compiled
  // schemas: the SDK's joinNodes() resolves a join's xpath-src among the link's siblings.
  for (const field of schema.fields) containerFor(field.path).children.push(fieldToXml(field));
  for (const link of schema.links) root.children.push(linkToXml(link));
  return root;
}

function fieldToXml(field: Field): XmlElement {
  const attrs: Record<string, string> = { name: field.name, type: field.type, label: field.label, sqlname: field.column };
  if (field.length !== undefined) attrs['length'] = String(field.length);
  if (field.enumId !== undefined) attrs['enum'] = field.enumId.split(':').slice(2).join(':') || field.enumId;
  if (field.default !== undefined) attrs['default'] = field.default;
  if (field.defOnDuplicate) attrs['defOnDuplicate'] = 'true';
  if (field.notNull) attrs['notNull'] = 'true';
  return element(field.isElement ? 'element' : 'attribute', attrs);
}

function linkToXml(link: Link): XmlElement {
  const attrs: Record<string, string> = { name: link.name, type: 'link', target: link.target, label: link.label };
  if (link.cardinality === 'collection') attrs['unbound'] = 'true';
  if (link.revLink) attrs['revLink'] = link.revLink;
  return element(
    'element',
    attrs,
    link.joins.map((j) => element('join', { 'xpath-src': j.src, 'xpath-dst': j.dst })),
  );
}

function methodToXml(method: Method): XmlElement {
  const attrs: Record<string, string> = { name: method.name };
  if (method.static) attrs['static'] = 'true';
  if (method.const) attrs['const'] = 'true';
  const params = method.params.map((p) => {
    const a: Record<string, string> = { name: p.name, type: p.type };
    if (p.inout !== 'in') a['inout'] = p.inout;
    if (p.desc) a['desc'] = p.desc;
    return element('param', a);
  });
  return element('method', attrs, params.length > 0 ? [element('parameters', {}, params)] : []);
}
