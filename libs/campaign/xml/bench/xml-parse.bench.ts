// S9 benchmark: how long a near-limit SOAP body holds the event loop while it is parsed.
//   npx tsx libs/campaign/xml/bench/xml-parse.bench.ts        (or: npm run bench -- xml-parse)
//   NODE_OPTIONS=--max-old-space-size=192 npx tsx libs/campaign/xml/bench/xml-parse.bench.ts --after-only
//     (the gateway's heap: the unlimited parse of "before" dies of it on the 700,000 attributes, so skip it)
// Target S9: any body up to the gateway's MAX_BODY_BYTES (8 MiB) refused or accepted with an
// event-loop stall ≤ 100 ms. For each body: the stall of a parse in one go without the new limits (what the
// gateway did before), then `parseXmlAsync` with the default limits: its outcome, the longest turn it kept
// the loop (CPU time, robust to a busy machine; and wall time) and the event loop's worst delay meanwhile
// (perf_hooks.monitorEventLoopDelay). Prints a table; exits 1 when an async stall exceeds the target.
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { parseXml, parseXmlAsync, type XmlLimits } from '../src/index';

const TARGET_MS = 100;
const MAX_BODY_BYTES = 8 * 1024 * 1024;

const ENVELOPE_OPEN =
  '<SOAP-ENV:Envelope xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" ' +
  'xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/" xmlns:ns="http://xml.apache.org/xml-soap"><SOAP-ENV:Body>';
const ENVELOPE_CLOSE = '</SOAP-ENV:Body></SOAP-ENV:Envelope>';
const logon = (extra: string, inner = '') =>
  `${ENVELOPE_OPEN}<m:Logon xmlns:m="urn:xtk:session"${extra}>${inner}<login xsi:type="xsd:string">mc</login></m:Logon>${ENVELOPE_CLOSE}`;

function repeat(count: number, piece: (i: number) => string): string {
  const parts = new Array<string>(count);
  for (let i = 0; i < count; i++) parts[i] = piece(i);
  return parts.join('');
}

const BODIES: [string, () => string][] = [
  [
    'legal: WriteCollection of 50,000 records',
    () =>
      `${ENVELOPE_OPEN}<m:WriteCollection xmlns:m="urn:xtk:session"><sessiontoken xsi:type="xsd:string">t</sessiontoken><domDoc xsi:type="ns:Element"><recipient-collection xtkschema="nms:recipient">${repeat(
        50_000,
        (i) => `\n<recipient email="first.last${i}@example.com" firstName="First" lastName="Last${i}" birthDate="1990-01-02" gender="1" _operation="insert"/>`,
      )}</recipient-collection></domDoc></m:WriteCollection>${ENVELOPE_CLOSE}`,
  ],
  ['hostile: 700,000 attributes on one element', () => logon(repeat(700_000, (i) => ` a${i.toString(36)}=""`))],
  ['hostile: 400,000 namespace declarations', () => logon(repeat(400_000, (i) => ` xmlns:p${i.toString(36)}="u"`))],
  ['hostile: 1,900,000 sibling elements', () => logon('', '<a/>'.repeat(1_900_000))],
  [
    'hostile: 1,000,000 attributes on 5,000 elements',
    () =>
      logon(
        '',
        repeat(5_000, () => `<x${repeat(200, (k) => ` a${k.toString(36)}=""`)}/>`),
      ),
  ],
  ['hostile: 1,200,000 text nodes', () => logon('', `<t>${'t<?p?>'.repeat(1_200_000)}</t>`)],
  ['hostile: 1,300,000 character references', () => logon('', `<t>${'&#108;'.repeat(1_300_000)}</t>`)],
];

/** No limit but length and depth: the parse as the gateway ran it before the S9 limits. */
const UNLIMITED: Partial<XmlLimits> = {
  maxElements: Infinity,
  maxAttributesPerElement: Infinity,
  maxNamespaceDeclarationsPerElement: Infinity,
  maxNamespaceDeclarations: Infinity,
  maxNodes: Infinity,
  maxTextLength: Infinity,
  maxAttributeValueLength: Infinity,
};

const outcomeOf = (err: unknown) => (err instanceof Error ? `refused: ${/\(limit (\w+)\)/.exec(err.message)?.[1] ?? err.message.slice(0, 40)}` : 'accepted');

async function measureAsync(xml: string) {
  let turnStart = performance.now();
  let turnCpu = process.cpuUsage();
  let longestWallMs = 0;
  let longestCpuMs = 0;
  const endTurn = () => {
    longestWallMs = Math.max(longestWallMs, performance.now() - turnStart);
    const cpu = process.cpuUsage(turnCpu);
    longestCpuMs = Math.max(longestCpuMs, (cpu.user + cpu.system) / 1000);
  };
  const delay = monitorEventLoopDelay({ resolution: 5 });
  delay.enable();
  const started = performance.now();
  let outcome = 'accepted';
  try {
    await parseXmlAsync(xml, {
      yieldControl: async () => {
        endTurn();
        await new Promise<void>((resolve) => setImmediate(resolve));
        turnStart = performance.now();
        turnCpu = process.cpuUsage();
      },
    });
  } catch (err) {
    outcome = outcomeOf(err);
  }
  endTurn();
  const totalMs = performance.now() - started;
  // One more turn so the monitor records the last one.
  await new Promise<void>((resolve) => setTimeout(resolve, 10));
  delay.disable();
  return { outcome, totalMs, longestWallMs, longestCpuMs, loopMaxMs: delay.max / 1e6 };
}

async function main(): Promise<void> {
  const afterOnly = process.argv.includes('--after-only');
  const rows: Record<string, string | number>[] = [];
  let failed = false;
  for (const [label, build] of BODIES) {
    const xml = build();
    const bytes = Buffer.byteLength(xml);
    if (bytes >= MAX_BODY_BYTES) throw new Error(`${label} is ${bytes} bytes, over MAX_BODY_BYTES`);
    const started = performance.now();
    let before = 'not run';
    if (!afterOnly) {
      try {
        parseXml(xml, { limits: UNLIMITED });
        before = 'accepted';
      } catch (err) {
        before = outcomeOf(err);
      }
    }
    const syncMs = performance.now() - started;
    const after = await measureAsync(xml);
    failed ||= after.longestCpuMs > TARGET_MS;
    rows.push({
      body: label,
      MB: Number((bytes / 1e6).toFixed(2)),
      'before: stall ms': afterOnly ? '-' : Math.round(syncMs),
      'before: outcome': before,
      'after: outcome': after.outcome,
      'after: total ms': Math.round(after.totalMs),
      'longest turn cpu ms': Number(after.longestCpuMs.toFixed(1)),
      'longest turn wall ms': Number(after.longestWallMs.toFixed(1)),
      'loop max delay ms': Number(after.loopMaxMs.toFixed(1)),
    });
  }
  console.table(rows);
  console.log(`target: longest turn ≤ ${TARGET_MS} ms of CPU → ${failed ? 'MISSED' : 'met'}`);
  process.exitCode = failed ? 1 : 0;
}

void main();
