/**
 * Writes the full description of the data model (Markdown, HTML, JSON, Mermaid, DOT, SVG) from the built-in
 * schemas plus a customer's schema folders:
 *   npm run datamodel                       → docs/datamodel/
 *   npm run datamodel -- /tmp/out           → another folder
 *   CAP_SCHEMA_DIRS=./schemas,./more npm run datamodel
 */
import { join, relative, resolve } from 'node:path';
import { loadSchemaRegistry, SOURCE_BUILTIN_SCHEMA_DIR, writeDataModelDocs } from '@cap/campaign-persistence';

const ROOT = join(__dirname, '..', '..');

async function main(): Promise<void> {
  const customDirs = (process.env['CAP_SCHEMA_DIRS'] ?? '')
    .split(',')
    .map((d) => d.trim())
    .filter(Boolean)
    .map((d) => resolve(d));
  const outDir = resolve(process.argv[2] ?? join(ROOT, 'docs', 'datamodel'));
  const schemas = loadSchemaRegistry({ builtinDir: SOURCE_BUILTIN_SCHEMA_DIR, customDirs });
  const written = await writeDataModelDocs(schemas, outDir);
  process.stdout.write(`${schemas.size} schemas${customDirs.length > 0 ? ` (built-ins + ${customDirs.join(', ')})` : ''}\n`);
  for (const path of written) process.stdout.write(`  wrote ${relative(process.cwd(), path) || path}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`datamodel failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
