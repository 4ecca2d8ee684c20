import type { Placement, Schema } from '@cap/campaign-schema';
import { buildDataModelView, type SchemaView } from './datamodel.view';

const FONT = 'Courier';

const COLORS: Record<Placement, { header: string; fill: string; cluster: string }> = {
  local: { header: '#93c5fd', fill: '#eff6ff', cluster: '#f5f9ff' },
  replicated: { header: '#86efac', fill: '#f0fdf4', cluster: '#f6fdf8' },
  cloud: { header: '#fdba74', fill: '#fff7ed', cluster: '#fffaf5' },
  staging: { header: '#d4d4d8', fill: '#fafafa', cluster: '#fbfbfb' },
};

const CLUSTER_LABELS: Record<Placement, string> = {
  local: 'local: local database only',
  replicated: 'replicated: local master, copy in the cloud database',
  cloud: 'cloud: cloud database',
  staging: 'staging: local database, staged changes',
};

/**
 * The entity-relationship diagram as Graphviz DOT source: tables grouped and coloured by placement, each
 * showing its key and link fields; one edge per N-1 link from the foreign-key field to the target's key
 * (crow's foot on the many side); a dashed edge from each staging table to the table it feeds.
 */
export function renderErDot(schemas: ReadonlyMap<string, Schema>): string {
  const view = buildDataModelView(schemas);
  const tables = view.schemas.filter((v) => v.schema.persistent);
  const out = [
    'digraph datamodel {',
    // Courier: Graphviz (WebAssembly, no fontconfig) sizes text with built-in metrics; monospace metrics hold
    // for whatever monospace font the viewer substitutes, so names never overflow their cells.
    `  graph [rankdir=LR, fontname="${FONT}", fontsize=13, nodesep=0.4, ranksep=1.2, pad=0.3, bgcolor="white", labelloc=t, label=<<B>Data model</B>>];`,
    `  node [shape=plain, fontname="${FONT}", fontsize=11];`,
    `  edge [fontname="${FONT}", fontsize=10, color="#52525b", fontcolor="#27272a", arrowsize=0.8];`,
  ];
  for (const placement of ['local', 'replicated', 'staging', 'cloud'] as const) {
    const members = tables.filter((v) => v.schema.placement === placement);
    if (members.length === 0) continue;
    const c = COLORS[placement];
    out.push(
      `  subgraph cluster_${placement} {`,
      `    label=<${esc(CLUSTER_LABELS[placement])}>; style="rounded,filled"; color="${c.header}"; fillcolor="${c.cluster}"; fontsize=12;`,
    );
    for (const v of members) out.push(`    ${v.entity} [label=<${nodeLabel(v)}>];`);
    out.push('  }');
  }
  for (const v of tables) {
    for (const link of v.relationships) {
      const target = view.find(link.target)!;
      const from = link.joins[0] ? v.schema.fields.find((f) => f.xpath === link.joins[0]!.src)?.column : undefined;
      const to = link.joins[0] ? target.schema.fields.find((f) => f.xpath === link.joins[0]!.dst)?.column : undefined;
      // From the right edge of the foreign-key row to the left edge of the target's key row.
      const tail = from ? `${v.entity}:${from}_out:e` : v.entity;
      const head = to ? `${target.entity}:${to}_in:w` : target.entity;
      out.push(`  ${tail} -> ${head} [label="${str(link.name)}", dir=both, arrowtail=crowodot, arrowhead=teeodot];`);
    }
    if (v.schema.stagingOf && view.find(v.schema.stagingOf)) {
      out.push(`  ${v.entity} -> ${view.find(v.schema.stagingOf)!.entity} [label="stages", style=dashed, color="#71717a", arrowhead=vee];`);
    }
  }
  out.push('}');
  return `${out.join('\n')}\n`;
}

function nodeLabel(v: SchemaView): string {
  const s = v.schema;
  const c = COLORS[s.placement];
  const rows = [
    `<TR><TD COLSPAN="3" BGCOLOR="${c.header}"><B>${esc(s.id)}</B></TD></TR>`,
    `<TR><TD COLSPAN="3" BGCOLOR="${c.fill}"><FONT POINT-SIZE="9">${esc(s.label)} (${esc(s.table)})</FONT></TD></TR>`,
  ];
  for (const { field, marks } of v.erFields) {
    rows.push(
      `<TR><TD ALIGN="LEFT" PORT="${esc(field.column)}_in"><FONT POINT-SIZE="9">${esc(marks.join(',') || 'key')}</FONT></TD><TD ALIGN="LEFT">${esc(field.column)}</TD><TD ALIGN="LEFT" PORT="${esc(field.column)}_out"><FONT COLOR="#52525b">${esc(field.type)}</FONT></TD></TR>`,
    );
  }
  const more = s.fields.length - v.erFields.length;
  if (more > 0)
    rows.push(`<TR><TD COLSPAN="3" ALIGN="LEFT"><FONT POINT-SIZE="9" COLOR="#71717a">+ ${more} more field${more === 1 ? '' : 's'}</FONT></TD></TR>`);
  return `<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="3" BGCOLOR="white">${rows.join('')}</TABLE>`;
}

/** Text in a Graphviz HTML-like label. */
function esc(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/\s*[\r\n]+\s*/g, ' ');
}

/** Text in a Graphviz double-quoted string. */
function str(text: string): string {
  return text
    .replace(/\\/g, '\\\\')
    .replace(/"/g, '\\"')
    .replace(/\s*[\r\n]+\s*/g, ' ');
}
