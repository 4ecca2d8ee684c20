import type { Schema } from '@cap/campaign-schema';
import { buildDataModelView } from './datamodel.view';

/**
 * The entity-relationship diagram as Mermaid `erDiagram` source: one entity per table (named `ns_name`,
 * with the schema id and placement as its display alias) listing its key and link fields; one relationship
 * per N-1 link (`}o--o|`: many rows to zero or one target); a dashed relationship from each staging schema
 * to the schema it stages.
 */
export function renderErMermaid(schemas: ReadonlyMap<string, Schema>): string {
  const view = buildDataModelView(schemas);
  const tables = view.schemas.filter((v) => v.schema.persistent);
  const out = ['erDiagram'];
  for (const v of tables) {
    out.push(`  ${v.entity}["${quoted(`${v.schema.id} (${v.schema.placement})`)}"] {`);
    for (const { field, marks } of v.erFields) {
      out.push(`    ${field.type} ${field.column}${marks.length > 0 ? ` ${marks.join(', ')}` : ''} "${quoted(field.label)}"`);
    }
    if (v.erFields.length === 0) out.push(`    string table "${quoted(v.schema.table)}"`);
    out.push('  }');
  }
  for (const v of tables) {
    for (const link of v.relationships) {
      const target = view.find(link.target)!;
      out.push(`  ${v.entity} }o--o| ${target.entity} : "${quoted(link.name)}"`);
    }
    if (v.schema.stagingOf) {
      const source = view.find(v.schema.stagingOf);
      if (source) out.push(`  ${v.entity} }o..o| ${source.entity} : "stages"`);
    }
  }
  return `${out.join('\n')}\n`;
}

/** Text inside a Mermaid double-quoted string: no double quote, no line break. */
function quoted(text: string): string {
  return text.replace(/"/g, "'").replace(/\s*[\r\n]+\s*/g, ' ');
}
