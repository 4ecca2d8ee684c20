/**
 * Writes the full description of the data model (Markdown, HTML, JSON, Mermaid, DOT, SVG) from the built-in
 * schemas plus a customer's schema folders:
 *   npm run datamodel                       → docs/datamodel/
 *   npm run datamodel -- ../datamodel-out   → another folder
 *   CAP_SCHEMA_DIRS=./schemas,./more npm run datamodel
 *   CAP_GATEWAY_URL=https://campaign.example.com npm run datamodel   → the reporting link points there
 * The Markdown and HTML descriptions link to the gateway's reporting summary (/nl/jsp/reporting.jsp), where the
 * indicators and statistics these schemas hold are summed up (docs/deliveries.md#reporting).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { loadSchemaRegistry, SOURCE_BUILTIN_SCHEMA_DIR, writeDataModelDocs } from '@cap/campaign-files';

const ROOT = join(__dirname, '..', '..');
const DEFAULT_OUT_DIR = join(ROOT, 'docs', 'datamodel');
const REPORTING_PATH = '/nl/jsp/reporting.jsp';

const escapeHtml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/**
 * Adds the link to the reporting summary under the introduction of datamodel.md and datamodel.html (and, written
 * into docs/datamodel, to the Reporting section of docs/deliveries.md).
 */
async function addReportingLinks(outDir: string, gatewayUrl: string): Promise<void> {
  const url = `${gatewayUrl.replace(/\/+$/, '')}${REPORTING_PATH}`;
  const docsLink = resolve(outDir) === DEFAULT_OUT_DIR ? '../deliveries.md#reporting' : undefined;
  const mdPath = join(outDir, 'datamodel.md');
  const md = await readFile(mdPath, 'utf8');
  const mdLine =
    `**Reporting**: the delivery indicators (\`nms:delivery\` \`properties/@…\`, logs in \`nms:broadLogRcp\`) and the message-center statistics ` +
    `(\`nms:eventStat\`, logs in \`nms:broadLogEvent\`) are summed up by the gateway at [${url}](${url}) (HTML, or JSON with \`?format=json\`; operators only)` +
    `${docsLink ? `, described in [Reporting](${docsLink})` : ''}.`;
  const mdParts = md.split('\n\n');
  mdParts.splice(2, 0, mdLine);
  await writeFile(mdPath, mdParts.join('\n\n'), 'utf8');

  const htmlPath = join(outDir, 'datamodel.html');
  const html = await readFile(htmlPath, 'utf8');
  const htmlLine =
    `<p id="reporting"><strong>Reporting</strong>: the delivery indicators (<code>nms:delivery</code> <code>properties/@…</code>, logs in <code>nms:broadLogRcp</code>) and the ` +
    `message-center statistics (<code>nms:eventStat</code>, logs in <code>nms:broadLogEvent</code>) are summed up by the gateway at ` +
    `<a href="${escapeHtml(url)}">${escapeHtml(url)}</a> (HTML, or JSON with <code>?format=json</code>; operators only)` +
    `${docsLink ? `, described in <a href="${docsLink}">Reporting</a>` : ''}.</p>`;
  const intro = html.indexOf('</p>', html.indexOf('<h1>Data model</h1>'));
  if (intro < 0) throw new Error('datamodel.html: no introduction to put the reporting link under');
  await writeFile(htmlPath, `${html.slice(0, intro + 4)}\n${htmlLine}${html.slice(intro + 4)}`, 'utf8');
}

async function main(): Promise<void> {
  const customDirs = (process.env['CAP_SCHEMA_DIRS'] ?? '')
    .split(',')
    .map((d) => d.trim())
    .filter(Boolean)
    .map((d) => resolve(d));
  const outDir = resolve(process.argv[2] ?? DEFAULT_OUT_DIR);
  const schemas = loadSchemaRegistry({ builtinDir: SOURCE_BUILTIN_SCHEMA_DIR, customDirs });
  const written = await writeDataModelDocs(schemas, outDir);
  await addReportingLinks(outDir, process.env['CAP_GATEWAY_URL'] || 'http://127.0.0.1:8080');
  process.stdout.write(`${schemas.size} schemas${customDirs.length > 0 ? ` (built-ins + ${customDirs.join(', ')})` : ''}\n`);
  for (const path of written) process.stdout.write(`  wrote ${relative(process.cwd(), path) || path}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`datamodel failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
