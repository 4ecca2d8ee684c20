// P9 benchmark: queryDef compile throughput and result shaping time.
//   npx tsx libs/campaign/query/bench/query.bench.ts        (or: npm run bench -- query)
// Targets (docs/targets.md P9): ≥ 20,000 compiles/s for a queryDef of 5 fields, 2 joins, 3 conditions;
// 100,000 result rows shaped in ≤ 1 s. Medians of 7 runs after a warm-up, each next to a baseline measured in
// the same run (the machines are shared and noisy: the ratio says more than the absolute figure).
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import { parseXml, serializeXml } from '@cap/campaign-xml';
import { compileQueryDef, normaliseQueryDef, shapeRows, shapeRowsAsObjects } from '../src/index';
import { compileBuiltinSchemas } from '../test/builtin-schemas.fixture';

const RUNS = 7;
const COMPILES_PER_RUN = 20_000;
const ROWS = 100_000;

const QUERY_XML = `<queryDef schema="nms:recipient" operation="select" lineCount="100" xtkschema="xtk:queryDef">
  <select>
    <node expr="@email"/><node expr="@firstName"/><node expr="[location/@city]" alias="@city"/>
    <node expr="[folder/@label]"/><node expr="[folder/parent/@name]"/>
  </select>
  <where>
    <condition expr="@email LIKE '%@example.com'"/>
    <condition expr="[folder/@name] = 'nmsRootRecipient'" boolOperator="OR"/>
    <condition expr="@created &gt;= #2024-01-01#"/>
  </where>
  <orderBy><node expr="@email" sortDesc="true"/></orderBy>
</queryDef>`;

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Runs `fn` RUNS times after one warm-up; returns the elapsed milliseconds of each run. */
function measure(fn: () => void): number[] {
  fn();
  const out: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    fn();
    out.push(performance.now() - t);
  }
  return out;
}

const schemas = compileBuiltinSchemas();
const queryElement = parseXml(QUERY_XML);
const queryJson = {
  schema: 'nms:recipient',
  operation: 'select',
  lineCount: 100,
  select: {
    node: [
      { expr: '@email' },
      { expr: '@firstName' },
      { expr: '[location/@city]', alias: '@city' },
      { expr: '[folder/@label]' },
      { expr: '[folder/parent/@name]' },
    ],
  },
  where: {
    condition: [
      { expr: "@email LIKE '%@example.com'" },
      { expr: "[folder/@name] = 'nmsRootRecipient'", boolOperator: 'OR' },
      { expr: '@created >= #2024-01-01#' },
    ],
  },
  orderBy: { node: { expr: '@email', sortDesc: true } },
};
const check = compileQueryDef(queryElement, schemas);
if ((check.sql.match(/LEFT JOIN/g) ?? []).length !== 2 || check.shape.columns.length !== 5)
  throw new Error('the benchmark query must have 5 fields and 2 joins');

let sink = 0;
const compileXml = measure(() => {
  for (let i = 0; i < COMPILES_PER_RUN; i++) sink += compileQueryDef(queryElement, schemas).params.length;
});
const compileJson = measure(() => {
  for (let i = 0; i < COMPILES_PER_RUN; i++) sink += compileQueryDef(queryJson, schemas).params.length;
});
const normalised = normaliseQueryDef(queryElement);
const compileModel = measure(() => {
  for (let i = 0; i < COMPILES_PER_RUN; i++) sink += compileQueryDef(normalised, schemas).params.length;
});
// Baseline: parsing the same queryDef's XML text, which the gateway does for every request anyway.
const parseBaseline = measure(() => {
  for (let i = 0; i < COMPILES_PER_RUN; i++) sink += parseXml(QUERY_XML).children.length;
});

// Shaping: 100,000 rows as node-postgres returns them for a select of 8 typed columns.
const shapeQuery = compileQueryDef(
  {
    schema: 'nms:recipient',
    select: {
      node: [
        { expr: '@id' },
        { expr: '@email' },
        { expr: '@created' },
        { expr: '@blackList' },
        { expr: '[location/@city]' },
        { expr: '[folder/@label]' },
        { expr: '@gender', analyze: true },
        { expr: '@birthDate' },
      ],
    },
  },
  schemas,
);
const rows = Array.from({ length: ROWS }, (_, i) => ({
  c0: `0b6c3c2e-5a7e-4c1b-9f00-${String(i).padStart(12, '0')}`,
  c1: `user${i}@example.com`,
  c2: new Date(1_700_000_000_000 + i * 1000),
  c3: i % 2 === 0,
  c4: i % 3 === 0 ? null : 'Paris',
  c5: 'Customers',
  c6: i % 3,
  c7: new Date(1990, 0, 1 + (i % 365)),
}));
let shapedXml = shapeRows(shapeQuery.shape, rows);
const shapeXml = measure(() => {
  shapedXml = shapeRows(shapeQuery.shape, rows);
});
const shapeObjects = measure(() => {
  sink += (shapeRowsAsObjects(shapeQuery.shape, rows)!['recipient'] as unknown[]).length;
});
// Baseline: a shallow copy of every row (the least any row mapping costs).
const copyBaseline = measure(() => {
  sink += rows.map((r) => ({ ...r })).length;
});
// Information only (not part of P9): serialising the shaped document to XML text, done by @cap/campaign-xml.
const serialize = measure(() => {
  sink += serializeXml(shapedXml).length;
});

const perSecond = (ms: number) => Math.round((COMPILES_PER_RUN / ms) * 1000);
const fmt = (n: number) => n.toLocaleString('en-US', { maximumFractionDigits: 0 });
const compileRate = perSecond(median(compileXml));
const shapeMs = median(shapeXml);
const table = [
  ['compile queryDef (XML element input)', `${fmt(compileRate)} compiles/s`, '≥ 20,000/s', compileRate >= 20_000 ? 'PASS' : 'MISS'],
  ['compile queryDef (SimpleJson input)', `${fmt(perSecond(median(compileJson)))} compiles/s`, '', ''],
  ['compile queryDef (normalised model)', `${fmt(perSecond(median(compileModel)))} compiles/s`, '', ''],
  ['baseline: parseXml of the queryDef text', `${fmt(perSecond(median(parseBaseline)))} parses/s`, '', ''],
  ['shape 100,000 rows → XML element tree', `${shapeMs.toFixed(0)} ms`, '≤ 1,000 ms', shapeMs <= 1000 ? 'PASS' : 'MISS'],
  ['shape 100,000 rows → SimpleJson objects', `${median(shapeObjects).toFixed(0)} ms`, '≤ 1,000 ms', median(shapeObjects) <= 1000 ? 'PASS' : 'MISS'],
  ['baseline: shallow copy of 100,000 rows', `${median(copyBaseline).toFixed(0)} ms`, '', ''],
  ['(info) serializeXml of the 100,000-row document', `${median(serialize).toFixed(0)} ms`, '', ''],
];
const widths = [0, 1, 2, 3].map((c) => Math.max(...table.map((r) => r[c]!.length), ['measure', 'median of 7', 'target', ''][c]!.length));
const line = (r: string[]) => `| ${r.map((v, i) => v.padEnd(widths[i]!)).join(' | ')} |`;
console.log(`query compiler benchmark (P9) — node ${process.version}, ${cpus().length} CPUs (${cpus()[0]?.model ?? 'unknown'})`);
console.log(line(['measure', 'median of 7', 'target', '']));
console.log(line(widths.map((w) => '-'.repeat(w))));
for (const r of table) console.log(line(r));
console.log(
  `ratios: compile costs ${(median(compileXml) / median(parseBaseline)).toFixed(2)}× an XML parse of the same queryDef; ` +
    `XML shaping costs ${(shapeMs / median(copyBaseline)).toFixed(2)}× a shallow row copy`,
);
if (sink < 0) console.log(sink);
if (compileRate < 20_000 || shapeMs > 1000) process.exitCode = 1;
