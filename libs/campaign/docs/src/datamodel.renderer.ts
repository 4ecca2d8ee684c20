import type { Schema } from '@cap/campaign-schema';
import { generateDataModelDocs, type DataModelDocs } from './datamodel-docs.generator';
import { renderErDot } from './er-dot.renderer';

/**
 * Every form of the data-model description, the ER diagram rendered to SVG (what the gateway serves) by
 * Graphviz compiled to WebAssembly (no native binary, no file read: the module carries its own binary).
 */
export async function renderDataModel(schemas: ReadonlyMap<string, Schema>): Promise<DataModelDocs & { svg: string }> {
  // Loaded on first use: Graphviz (WebAssembly) is megabytes that a gateway only needs for /nl/datamodel.
  const { instance } = await import('@viz-js/viz');
  const viz = await instance();
  const result = viz.render(renderErDot(schemas), { format: 'svg' });
  const errors = result.errors.filter((e) => e.level === 'error');
  if (result.status !== 'success' || errors.length > 0) {
    throw new Error(`Graphviz could not render the ER diagram: ${result.errors.map((e) => e.message).join('; ')}`);
  }
  const svg = result.output;
  return { ...generateDataModelDocs(schemas, { diagramSvg: svg }), svg };
}
