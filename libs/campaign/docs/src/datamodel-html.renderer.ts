import { escapeAttr } from '@cap/campaign-xml';
import type { Schema } from '@cap/campaign-schema';
import { buildDataModelView, enumerationAnchorOf, PLACEMENT_DESCRIPTIONS, type DataModelView, type SchemaView } from './datamodel.view';

export interface HtmlOptions {
  /** The ER diagram rendered as SVG, embedded as is (it must come from a trusted renderer, such as Graphviz fed renderErDot). */
  diagramSvg?: string;
}

/** Escapes text for HTML content and double-quoted attributes alike. */
const h = (text: string): string => escapeAttr(text);

const STYLE = `
:root { --local: #dbeafe; --replicated: #dcfce7; --cloud: #ffedd5; --staging: #e5e7eb; --line: #d4d4d8; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #18181b; display: flex; }
nav { position: sticky; top: 0; height: 100vh; overflow: auto; width: 260px; flex: none; padding: 16px; border-right: 1px solid var(--line); background: #fafafa; }
nav h2 { font-size: 13px; text-transform: uppercase; letter-spacing: .05em; margin: 16px 0 4px; color: #52525b; }
nav ul { list-style: none; margin: 0; padding: 0; }
nav a { display: block; padding: 2px 6px; border-radius: 4px; text-decoration: none; color: inherit; }
nav a:hover { background: #e4e4e7; }
main { flex: 1; min-width: 0; padding: 24px 32px 64px; }
section.schema { border: 1px solid var(--line); border-radius: 8px; padding: 4px 20px 16px; margin: 24px 0; }
h2 code, h1 code { font-size: .8em; color: #52525b; }
table { border-collapse: collapse; width: 100%; margin: 8px 0 16px; font-size: 13px; }
th, td { border: 1px solid var(--line); padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f4f4f5; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; }
dt { color: #52525b; }
dd { margin: 0; }
.badge { display: inline-block; font-size: 12px; padding: 1px 8px; border-radius: 10px; border: 1px solid var(--line); vertical-align: middle; }
.local { background: var(--local); } .replicated { background: var(--replicated); } .cloud { background: var(--cloud); } .staging { background: var(--staging); }
.diagram { overflow: auto; border: 1px solid var(--line); border-radius: 8px; padding: 8px; }
.diagram svg { max-width: 100%; height: auto; }
`;

/**
 * The data model as one self-contained HTML page (inline CSS, no scripts, no external assets): an index of
 * namespaces and schemas, then per schema its placement, table, primary key, fields, keys, links (targets
 * hyperlinked), enumerations and methods. Every piece of schema text is HTML-escaped.
 */
export function renderDataModelHtml(schemas: ReadonlyMap<string, Schema>, options: HtmlOptions = {}): string {
  const view = buildDataModelView(schemas);
  const nav = view.namespaces
    .map((ns) => `<h2>${h(ns.name)}</h2><ul>${ns.schemas.map((v) => `<li><a href="#${h(v.anchor)}">${h(v.schema.id)}</a></li>`).join('')}</ul>`)
    .join('\n');
  const legend = (['local', 'replicated', 'cloud', 'staging'] as const)
    .map((p) => `<li><span class="badge ${p}">${p}</span> ${h(PLACEMENT_DESCRIPTIONS[p])}</li>`)
    .join('');
  const diagram = options.diagramSvg ? `<h2 id="diagram">Entity-relationship diagram</h2><div class="diagram">${stripXmlProlog(options.diagramSvg)}</div>` : '';
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Data model</title>
<style>${STYLE}</style>
</head>
<body>
<nav><strong>Data model</strong>${options.diagramSvg ? '<ul><li><a href="#diagram">Diagram</a></li></ul>' : ''}
${nav}
</nav>
<main>
<h1>Data model</h1>
<p>${view.schemas.length} schemas in ${view.namespaces.length} namespaces, generated from the compiled schemas.</p>
<ul>${legend}</ul>
${diagram}
${view.schemas.map((v) => section(v, view)).join('\n')}
</main>
</body>
</html>
`;
}

function stripXmlProlog(svg: string): string {
  const start = svg.indexOf('<svg');
  return start >= 0 ? svg.slice(start) : '';
}

function link(id: string, view: DataModelView): string {
  const target = view.find(id);
  return target ? `<a href="#${h(target.anchor)}"><code>${h(id)}</code></a>` : `<code>${h(id)}</code>`;
}

function enumLink(enumId: string, view: DataModelView): string {
  const owner = view.schemas.find((v) => v.schema.enumerations.some((e) => e.id === enumId));
  return owner ? `<a href="#${h(enumerationAnchorOf(enumId))}"><code>${h(enumId)}</code></a>` : `<code>${h(enumId)}</code>`;
}

function table(headers: string[], rows: string[][]): string {
  return `<table><thead><tr>${headers.map((x) => `<th>${h(x)}</th>`).join('')}</tr></thead><tbody>${rows.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`).join('')}</tbody></table>`;
}

function section(v: SchemaView, view: DataModelView): string {
  const s = v.schema;
  const code = (x: string) => `<code>${h(x)}</code>`;
  const facts: [string, string][] = [
    ['Id', code(s.id)],
    ['Placement', `<span class="badge ${h(s.placement)}">${h(s.placement)}</span> ${h(PLACEMENT_DESCRIPTIONS[s.placement])}`],
    ['Databases', s.databases.length > 0 ? h(s.databases.join(', ')) : 'none (API only, no table)'],
  ];
  if (s.persistent) facts.push(['Table', code(s.table)], ['Primary key', h(v.primaryKey)]);
  if (s.stagingSchema) facts.push(['Staging schema', link(s.stagingSchema, view)]);
  if (s.stagingOf) facts.push(['Stages', link(s.stagingOf, view)]);
  if (s.implementsPersist) facts.push(['Implements', code('xtk:persist')]);
  facts.push(['Defined in', s.sources.map(code).join(', ')]);

  const parts = [
    `<section class="schema" id="${h(v.anchor)}">`,
    `<h2>${h(s.label)} <code>${h(s.id)}</code> <span class="badge ${h(s.placement)}">${h(s.placement)}</span></h2>`,
    `<dl>${facts.map(([k, val]) => `<dt>${h(k)}</dt><dd>${val}</dd>`).join('')}</dl>`,
  ];
  if (s.fields.length > 0) {
    parts.push(
      '<h3>Fields</h3>',
      table(
        ['XPath', 'Type', 'Length', 'Enumeration', 'Not null', 'Default', 'Column', 'Label'],
        s.fields.map((f) => [
          code(f.xpath),
          h(f.type),
          f.length === undefined ? '' : String(f.length),
          f.enumId ? enumLink(f.enumId, view) : '',
          f.notNull ? 'yes' : '',
          f.default === undefined ? '' : code(f.default),
          code(f.column),
          h(f.label),
        ]),
      ),
    );
  }
  if (s.keys.length > 0) {
    parts.push(
      '<h3>Keys</h3>',
      table(
        ['Name', 'Fields', 'Internal'],
        s.keys.map((k) => [h(k.name), k.fields.map(code).join(', '), k.internal ? 'yes' : '']),
      ),
    );
  }
  if (s.links.length > 0) {
    parts.push(
      '<h3>Links</h3>',
      table(
        ['Name', 'Target', 'Cardinality', 'Joins', 'Reverse link', 'Label'],
        s.links.map((l) => [
          h(l.name),
          link(l.target, view),
          l.cardinality === 'single' ? 'N-1 (single)' : '1-N (collection)',
          l.joins.map((j) => `${code(j.src)} = ${code(j.dst)}`).join('<br>'),
          l.revLink ? h(l.revLink) : '',
          h(l.label),
        ]),
      ),
    );
  }
  for (const e of s.enumerations) {
    parts.push(
      `<h3 id="${h(enumerationAnchorOf(e.id))}">Enumeration ${h(e.name)} <code>${h(e.id)}</code></h3>`,
      `<p>${h(e.label)}; base type ${h(e.basetype)}${e.default !== undefined ? `; default ${code(e.default)}` : ''}.</p>`,
      table(
        ['Name', 'Value', 'Label'],
        e.values.map((x) => [code(x.name), code(x.value), h(x.label)]),
      ),
    );
  }
  if (s.methods.length > 0) {
    parts.push(
      '<h3>Methods</h3>',
      table(
        ['Method', 'Kind', 'Parameters'],
        s.methods.map((m) => [
          code(m.name),
          h([m.static ? 'static' : 'instance', m.const ? 'const' : '', m.interface ? `interface ${m.interface}` : ''].filter(Boolean).join(', ')),
          m.params.length === 0 ? 'none' : m.params.map((p) => `${h(p.inout)} ${code(p.name)}: ${h(p.type)}${p.desc ? ` (${h(p.desc)})` : ''}`).join('<br>'),
        ]),
      ),
    );
  }
  parts.push('</section>');
  return parts.join('\n');
}
