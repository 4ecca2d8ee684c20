import type { Field, Schema } from '@cap/campaign-schema';
import { buildDataModelView, PLACEMENT_DESCRIPTIONS, type SchemaView } from './datamodel.view';

/**
 * The data model as a Markdown reference: an index by namespace, then one section per schema with its
 * placement, table, keys, fields, links, enumerations and methods. Free text (labels) is escaped so that it
 * cannot break a table or inject HTML; ids and xpaths are code spans.
 */
export function renderDataModelMarkdown(schemas: ReadonlyMap<string, Schema>): string {
  const view = buildDataModelView(schemas);
  const out: string[] = [
    '# Data model',
    '',
    `${view.schemas.length} schemas, generated from the compiled schemas. Placement says where rows live: \`local\` (local database), \`replicated\` (local master, copy in the cloud), \`cloud\`, \`staging\` (local changes on their way to a cloud schema).`,
    '',
  ];
  for (const ns of view.namespaces) {
    out.push(`- **${md(ns.name)}**: ${ns.schemas.map((s) => `[${s.schema.id}](#${s.anchor})`).join(', ')}`);
  }
  out.push('');
  for (const v of view.schemas) out.push(...section(v, view.find.bind(view)));
  return `${out
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trimEnd()}\n`;
}

function section(v: SchemaView, find: (id: string) => SchemaView | undefined): string[] {
  const s = v.schema;
  const ref = (id: string) => (find(id) ? `[\`${id}\`](#${find(id)!.anchor})` : `\`${id}\``);
  const out = [`<a id="${v.anchor}"></a>`, '', `## ${md(s.label)} (\`${s.id}\`)`, ''];
  const facts: [string, string][] = [
    ['Placement', `${s.placement}: ${PLACEMENT_DESCRIPTIONS[s.placement]}`],
    ['Databases', s.databases.length > 0 ? s.databases.join(', ') : 'none (API only, no table)'],
  ];
  if (s.persistent) facts.push(['Table', `\`${s.table}\``], ['Primary key', md(v.primaryKey)]);
  if (s.stagingSchema) facts.push(['Staging schema', ref(s.stagingSchema)]);
  if (s.stagingOf) facts.push(['Stages', ref(s.stagingOf)]);
  if (s.implementsPersist) facts.push(['Implements', '`xtk:persist`']);
  facts.push(['Defined in', s.sources.map((f) => `\`${f}\``).join(', ')]);
  out.push('| | |', '|---|---|', ...facts.map(([k, val]) => `| ${k} | ${val} |`), '');

  if (s.fields.length > 0) {
    out.push('### Fields', '', '| XPath | Type | Length | Enumeration | Not null | Default | Column | Label |', '|---|---|---|---|---|---|---|---|');
    for (const f of s.fields)
      out.push(
        `| \`${f.xpath}\` | ${f.type} | ${f.length ?? ''} | ${f.enumId ? `\`${f.enumId}\`` : ''} | ${f.notNull ? 'yes' : ''} | ${defaultText(f)} | \`${f.column}\` | ${md(f.label)} |`,
      );
    out.push('');
  }
  if (s.keys.length > 0) {
    out.push('### Keys', '', '| Name | Fields | Internal |', '|---|---|---|');
    for (const k of s.keys) out.push(`| ${md(k.name)} | ${k.fields.map((x) => `\`${x}\``).join(', ')} | ${k.internal ? 'yes' : ''} |`);
    out.push('');
  }
  if (s.links.length > 0) {
    out.push('### Links', '', '| Name | Target | Cardinality | Joins | Reverse link | Label |', '|---|---|---|---|---|---|');
    for (const l of s.links) {
      const joins = l.joins.map((j) => `\`${j.src}\` = \`${j.dst}\``).join(', ');
      out.push(
        `| ${md(l.name)} | ${ref(l.target)} | ${l.cardinality === 'single' ? 'N-1 (single)' : '1-N (collection)'} | ${joins} | ${l.revLink ? md(l.revLink) : ''} | ${md(l.label)} |`,
      );
    }
    out.push('');
  }
  for (const e of s.enumerations) {
    out.push(
      `### Enumeration ${md(e.name)} (\`${e.id}\`)`,
      '',
      `${md(e.label)}; base type ${e.basetype}${e.default !== undefined ? `; default ${md(e.default)}` : ''}.`,
      '',
    );
    out.push('| Name | Value | Label |', '|---|---|---|', ...e.values.map((x) => `| ${md(x.name)} | ${md(x.value)} | ${md(x.label)} |`), '');
  }
  if (s.methods.length > 0) {
    out.push('### Methods', '', '| Method | Kind | Parameters |', '|---|---|---|');
    for (const m of s.methods) {
      const kind = [m.static ? 'static' : 'instance', m.const ? 'const' : '', m.interface ? `interface ${m.interface}` : ''].filter(Boolean).join(', ');
      const params = m.params.map((p) => `${p.inout} ${md(p.name)}: ${md(p.type)}${p.desc ? ` (${md(p.desc)})` : ''}`).join('<br>');
      out.push(`| ${md(m.name)} | ${md(kind)} | ${params || 'none'} |`);
    }
    out.push('');
  }
  return out;
}

function defaultText(f: Field): string {
  return f.default === undefined ? '' : `\`${f.default.replace(/`/g, "'").replace(/\s*[\r\n]+\s*/g, ' ')}\``.replace(/\|/g, '\\|');
}

/** Free text in Markdown (and in a table cell): no formatting, no HTML, no cell break. */
function md(text: string): string {
  return text
    .replace(/[\\`*_[\]|#]/g, '\\$&')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/\s*[\r\n]+\s*/g, ' ');
}
