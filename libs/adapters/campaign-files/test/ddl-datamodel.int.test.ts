import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DATA_MODEL_FILES, loadSchemaRegistry, SOURCE_BUILTIN_SCHEMA_DIR, writeDataModelDocs } from '../src/index';

const ROOT = join(__dirname, '..', '..', '..', '..');

describe('writeDataModelDocs', () => {
  const dirs: string[] = [];
  const tempDir = () => {
    const dir = mkdtempSync(join(tmpdir(), 'cap-datamodel-'));
    dirs.push(dir);
    return dir;
  };
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('when the built-in data model is written, then all six files are there and the SVG diagram is rendered and embedded in the HTML', async () => {
    const out = join(tempDir(), 'nested', 'datamodel');

    const written = await writeDataModelDocs(loadSchemaRegistry({ builtinDir: SOURCE_BUILTIN_SCHEMA_DIR }), out);

    expect(readdirSync(out).sort()).toEqual([...DATA_MODEL_FILES].sort());
    expect(written).toEqual(DATA_MODEL_FILES.map((f) => join(out, f)));
    const svg = readFileSync(join(out, 'datamodel.svg'), 'utf8');
    expect(svg).toContain('<svg');
    expect(svg).toContain('nms:recipient');
    expect(svg).toContain('stages');
    expect(readFileSync(join(out, 'datamodel.html'), 'utf8')).toMatch(/<div class="diagram"><svg/);
    expect(readFileSync(join(out, 'datamodel.mmd'), 'utf8').startsWith('erDiagram\n')).toBe(true);
    expect(readFileSync(join(out, 'datamodel.dot'), 'utf8').startsWith('digraph datamodel {')).toBe(true);
    expect(JSON.parse(readFileSync(join(out, 'datamodel.json'), 'utf8')).schemas).toHaveLength(31);
    expect(readFileSync(join(out, 'datamodel.md'), 'utf8')).toContain('## Recipients (`nms:recipient`)');
  });

  it('when `npm run datamodel` runs with CAP_SCHEMA_DIRS, then the customer extension appears in the written description', () => {
    const custom = tempDir();
    const out = tempDir();
    mkdirSync(join(custom, 'cus'));
    writeFileSync(
      join(custom, 'cus', 'recipient.xml'),
      `<srcSchema namespace="cus" name="recipient" extendedSchema="nms:recipient"><element name="recipient"><attribute name="loyaltyTier" type="string" length="16" label="Loyalty tier"/></element></srcSchema>`,
    );

    const run = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs'), join(ROOT, 'infra', 'src', 'datamodel.ts'), out], {
      cwd: ROOT,
      env: { PATH: process.env['PATH'] ?? '', CAP_SCHEMA_DIRS: custom },
      encoding: 'utf8',
      timeout: 60_000,
    });

    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout).toContain(`31 schemas (built-ins + ${custom})`);
    expect(readFileSync(join(out, 'datamodel.md'), 'utf8')).toContain('| `@loyaltyTier` | string | 16 |');
    expect(readFileSync(join(out, 'datamodel.html'), 'utf8')).toContain('cus/recipient.xml');
  });
});
