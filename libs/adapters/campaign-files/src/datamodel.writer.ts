import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { renderDataModel } from '@cap/campaign-docs';
import type { Schema } from '@cap/campaign-schema';

/** The files writeDataModelDocs writes, in the order it writes them. */
export const DATA_MODEL_FILES = ['datamodel.md', 'datamodel.html', 'datamodel.json', 'datamodel.mmd', 'datamodel.dot', 'datamodel.svg'] as const;

/**
 * Writes the data-model description into `outDir` (created when missing): Markdown, a self-contained HTML
 * page (with the diagram embedded), JSON, the ER diagram as Mermaid and DOT source, and the DOT rendered to
 * SVG by Graphviz compiled to WebAssembly (no native binary). Returns the paths written.
 */
export async function writeDataModelDocs(schemas: ReadonlyMap<string, Schema>, outDir: string): Promise<string[]> {
  const docs = await renderDataModel(schemas);
  const contents: Record<(typeof DATA_MODEL_FILES)[number], string> = {
    'datamodel.md': docs.markdown,
    'datamodel.html': docs.html,
    'datamodel.json': docs.json,
    'datamodel.mmd': docs.mermaid,
    'datamodel.dot': docs.dot,
    'datamodel.svg': docs.svg,
  };
  await mkdir(outDir, { recursive: true });
  const written: string[] = [];
  for (const name of DATA_MODEL_FILES) {
    const path = join(outDir, name);
    await writeFile(path, contents[name], 'utf8');
    written.push(path);
  }
  return written;
}
