import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { LoadTestTotals, OutcomeCounts, SecondSample } from './loadtest.recorder';
import type { LoadTestResult } from './loadtest.result';

/** What a fault code means to someone load-testing (docs/errors.md has the full catalogue). */
const FAULT_HINTS: Record<string, string> = {
  'SOP-330006': 'method not defined on this server (not implemented yet?)',
  'SOP-330001': 'malformed request',
  'SOP-330008': 'bad or missing parameter',
  'SOP-330011': 'the method failed while executing',
  'XSV-350001': 'invalid login or password',
  'XSV-350008': 'session refused (unknown, expired or logged-off token)',
  'XSV-350013': 'the operator lacks the right for this call',
  'CAP-100001': 'no reply from a downstream service within the RPC deadline',
  'CAP-100101': 'a dependency is unavailable (circuit breaker open)',
  'CAP-100102': 'the service is shutting down',
  'CAP-100302': 'the request is too large to forward',
};

const fmtMs = (ms: number) => (ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2));
const fmtInt = (n: number) => Math.round(n).toLocaleString('en');
const pct = (n: number, total: number) => (total === 0 ? '0.0' : ((100 * n) / total).toFixed(1));
const sum = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);
const sortedEntries = (r: Record<string, number>) => Object.entries(r).sort((a, b) => b[1] - a[1]);

/** The gateway's reporting summary (docs/deliveries.md#reporting) for the load test's target. */
export function reportingUrl(target: string): string {
  return `${target.replace(/\/+$/, '')}/nl/jsp/reporting.jsp`;
}

/** The line printed once a second while the load runs. */
export function formatProgressLine(sample: SecondSample, soFar: LoadTestTotals): string {
  return (
    `[${String(sample.second + 1).padStart(4)}s] ${String(sample.responses).padStart(6)} req/s | ` +
    `so far p50 ${fmtMs(soFar.latency.p50)} ms  p99 ${fmtMs(soFar.latency.p99)} ms | ` +
    `2xx ${soFar.ok}  429 ${soFar.tooMany}  faults ${soFar.faultCount}  other ${soFar.otherStatusCount}  errors ${soFar.errors}`
  );
}

function outcomeLines(c: OutcomeCounts, indent: string): string[] {
  const answered = c.responses;
  const faults = sum(c.faults);
  const other = sum(c.otherStatus);
  return [
    `${indent}2xx OK                   ${fmtInt(c.ok).padStart(10)}  ${pct(c.ok, answered).padStart(5)} %`,
    `${indent}2xx SOAP faults          ${fmtInt(faults).padStart(10)}  ${pct(faults, answered).padStart(5)} %`,
    `${indent}429 Too Many Requests    ${fmtInt(c.tooMany).padStart(10)}  ${pct(c.tooMany, answered).padStart(5)} %`,
    `${indent}other non-2xx            ${fmtInt(other).padStart(10)}  ${pct(other, answered).padStart(5)} %${
      other
        ? `  (${sortedEntries(c.otherStatus)
            .map(([s, n]) => `${s}: ${n}`)
            .join(', ')})`
        : ''
    }`,
    `${indent}errors (no answer)       ${fmtInt(c.errors).padStart(10)}          (of which timeouts ${c.timeouts})`,
  ];
}

/** The text summary printed on stdout at the end. */
export function formatSummary(result: LoadTestResult, files?: { html: string; json: string }): string {
  const { meta, totals } = result;
  const lines = [
    `Load test: scenario ${meta.scenario} → ${meta.url} (${meta.mix.map((m) => m.api).join(', ')})`,
    `  target ${fmtInt(meta.targetRate)} req/s for ${meta.durationSeconds} s over ${meta.connections.effective} connections` +
      (meta.connections.effective !== meta.connections.requested ? ` (asked ${meta.connections.requested}; autocannon uses at most one per req/s)` : '') +
      (meta.interrupted ? ' — INTERRUPTED' : ''),
    `  sent ${fmtInt(result.sent)}, answered ${fmtInt(totals.responses)} in ${meta.elapsedSeconds.toFixed(2)} s: ${result.achievedRate.toFixed(1)} answers/s`,
    '',
    `Latency (ms)       p50 ${fmtMs(totals.latency.p50).padStart(7)}   p90 ${fmtMs(totals.latency.p90).padStart(7)}   p99 ${fmtMs(totals.latency.p99).padStart(7)}   max ${fmtMs(totals.latency.max).padStart(7)}   (all ${fmtInt(totals.latency.count)} answers)`,
    `  2xx OK only      p50 ${fmtMs(totals.okLatency.p50).padStart(7)}   p90 ${fmtMs(totals.okLatency.p90).padStart(7)}   p99 ${fmtMs(totals.okLatency.p99).padStart(7)}   max ${fmtMs(totals.okLatency.max).padStart(7)}`,
    '',
    'Outcomes                        count  share of answers',
    ...outcomeLines(totals, '  '),
  ];
  if (totals.faultCount > 0) {
    lines.push('', 'SOAP faults by code (HTTP 2xx):');
    for (const [code, n] of sortedEntries(totals.faults)) lines.push(`  ${code.padEnd(12)} ${fmtInt(n).padStart(10)}  ${FAULT_HINTS[code] ?? ''}`.trimEnd());
  }
  if (totals.errorMessages.length > 0) {
    lines.push('', 'Errors without an answer:');
    for (const { message, count } of totals.errorMessages.slice(0, 5)) lines.push(`  ${fmtInt(count).padStart(10)}  ${message}`);
  }
  if (meta.mix.length > 1) {
    lines.push('', 'Per API                                 answers       ok   faults      429    other   errors');
    for (const [api, c] of Object.entries(totals.byApi).sort()) {
      lines.push(
        `  ${api.padEnd(34)} ${[c.responses, c.ok, sum(c.faults), c.tooMany, sum(c.otherStatus), c.errors].map((n) => fmtInt(n).padStart(8)).join(' ')}`,
      );
    }
  }
  if (result.notes.length > 0) lines.push('', 'Notes:', ...result.notes.map((n) => `  - ${n}`));
  if (files) lines.push('', `Report: ${files.html}`, `        ${files.json}`);
  return `${lines.join('\n')}\n`;
}

// ── HTML ────────────────────────────────────────────────────────────────────────────────────────────────

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** 1, 2 or 5 × 10^k, so that about `ticks` steps cover `max`. */
function niceStep(max: number, ticks = 5): number {
  const raw = Math.max(max, 1e-9) / ticks;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw);
  return step ?? 10 * magnitude;
}

const W = 900;
const H = 260;
const PAD = { left: 56, right: 16, top: 12, bottom: 34 };

interface Axes {
  x: (second: number) => number;
  y: (value: number) => number;
  svg: string[];
}

/** Plot area with grid, y ticks and one x slot per second (points and bars sit in the middle of their slot). */
function axes(seconds: number, yMax: number, yLabel: string): Axes {
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const step = niceStep(yMax);
  const top = Math.max(step, Math.ceil(yMax / step) * step);
  const slots = Math.max(1, seconds);
  const x = (s: number) => PAD.left + (s + 0.5) * (plotW / slots);
  const y = (v: number) => PAD.top + plotH - (v / top) * plotH;
  const svg: string[] = [];
  for (let v = 0; v <= top + step / 2; v += step) {
    svg.push(`<line x1="${PAD.left}" x2="${W - PAD.right}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" class="grid"/>`);
    svg.push(`<text x="${PAD.left - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end">${esc(Number(v.toPrecision(6)).toLocaleString('en'))}</text>`);
  }
  const xStep = Math.max(1, Math.ceil(seconds / 15));
  for (let s = 0; s < seconds; s += xStep) {
    svg.push(`<text x="${x(s).toFixed(1)}" y="${H - PAD.bottom + 16}" text-anchor="middle">${s + 1}</text>`);
  }
  svg.push(`<text x="${PAD.left + plotW / 2}" y="${H - 4}" text-anchor="middle">second of the run</text>`);
  svg.push(`<text x="12" y="${PAD.top + plotH / 2}" text-anchor="middle" transform="rotate(-90 12 ${PAD.top + plotH / 2})">${esc(yLabel)}</text>`);
  svg.push(`<line x1="${PAD.left}" x2="${PAD.left}" y1="${PAD.top}" y2="${PAD.top + plotH}" class="axis"/>`);
  svg.push(`<line x1="${PAD.left}" x2="${W - PAD.right}" y1="${PAD.top + plotH}" y2="${PAD.top + plotH}" class="axis"/>`);
  return { x, y, svg };
}

const wrapSvg = (title: string, body: string[]) =>
  `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="100%" role="img" aria-label="${esc(title)}">${body.join('')}</svg>`;

/** Latency percentiles per second: p50 and p99 of all answers, as lines (with dots when there is room). */
export function renderLatencySvg(series: SecondSample[]): string {
  const withData = series.filter((s) => s.latency.count > 0);
  const yMax = Math.max(1, ...withData.map((s) => s.latency.p99)) * 1.05;
  const a = axes(series.length, yMax, 'latency (ms)');
  const line = (pick: (s: SecondSample) => number, cls: string) => {
    const pts = withData.map((s) => [a.x(s.second).toFixed(1), a.y(pick(s)).toFixed(1)] as const);
    const dots =
      pts.length <= 120
        ? pts.map(
            ([x, y], i) =>
              `<circle cx="${x}" cy="${y}" r="2.5" class="${cls}"><title>second ${withData[i]!.second + 1}: ${cls} ${fmtMs(pick(withData[i]!))} ms</title></circle>`,
          )
        : [];
    return [pts.length > 1 ? `<polyline points="${pts.map(([x, y]) => `${x},${y}`).join(' ')}" class="${cls}"/>` : '', ...dots].join('');
  };
  return wrapSvg('latency percentiles per second', [...a.svg, line((s) => s.latency.p99, 'p99'), line((s) => s.latency.p50, 'p50')]);
}

const OUTCOME_LAYERS: { name: string; cls: string; pick: (s: SecondSample) => number }[] = [
  { name: '2xx OK', cls: 'ok', pick: (s) => s.ok },
  { name: '2xx SOAP fault', cls: 'fault', pick: (s) => sum(s.faults) },
  { name: '429', cls: 'throttled', pick: (s) => s.tooMany },
  { name: 'other non-2xx', cls: 'other', pick: (s) => sum(s.otherStatus) },
  { name: 'error / timeout', cls: 'error', pick: (s) => s.errors },
];

/** Answers per second, stacked by outcome. */
export function renderOutcomesSvg(series: SecondSample[]): string {
  const yMax = Math.max(1, ...series.map((s) => OUTCOME_LAYERS.reduce((t, l) => t + l.pick(s), 0)));
  const a = axes(series.length, yMax, 'answers per second');
  const barW = Math.max(1, ((W - PAD.left - PAD.right) / Math.max(1, series.length)) * 0.8);
  const bars: string[] = [];
  for (const s of series) {
    let base = 0;
    for (const layer of OUTCOME_LAYERS) {
      const v = layer.pick(s);
      if (v <= 0) continue;
      const y0 = a.y(base);
      const y1 = a.y(base + v);
      bars.push(
        `<rect x="${(a.x(s.second) - barW / 2).toFixed(1)}" y="${y1.toFixed(1)}" width="${barW.toFixed(1)}" height="${Math.max(0.5, y0 - y1).toFixed(1)}" class="${layer.cls}"><title>second ${s.second + 1}: ${v} ${esc(layer.name)}</title></rect>`,
      );
      base += v;
    }
  }
  return wrapSvg('answers per second by outcome', [...a.svg, ...bars]);
}

function countsRow(label: string, c: OutcomeCounts): string {
  const cells = [c.responses, c.ok, sum(c.faults), c.tooMany, sum(c.otherStatus), c.errors, c.timeouts].map((n) => `<td class="n">${fmtInt(n)}</td>`).join('');
  return `<tr><th>${esc(label)}</th>${cells}</tr>`;
}

/** The self-contained HTML report (inline CSS and SVG, no script, no external asset). */
export function renderHtmlReport(result: LoadTestResult): string {
  const { meta, totals, series } = result;
  const legend = (items: { name: string; cls: string }[]) =>
    `<p class="legend">${items.map((i) => `<span><i class="${i.cls}"></i>${esc(i.name)}</span>`).join('')}</p>`;
  const faultRows = sortedEntries(totals.faults)
    .map(([code, n]) => `<tr><th>${esc(code)}</th><td class="n">${fmtInt(n)}</td><td>${esc(FAULT_HINTS[code] ?? '')}</td></tr>`)
    .join('');
  const secondRows = series
    .map(
      (s) =>
        `<tr><td class="n">${s.second + 1}</td><td class="n">${fmtInt(s.responses)}</td><td class="n">${fmtMs(s.latency.p50)}</td><td class="n">${fmtMs(s.latency.p90)}</td><td class="n">${fmtMs(s.latency.p99)}</td><td class="n">${fmtMs(s.latency.max)}</td>` +
        `<td class="n">${fmtInt(s.ok)}</td><td class="n">${fmtInt(sum(s.faults))}</td><td class="n">${fmtInt(s.tooMany)}</td><td class="n">${fmtInt(sum(s.otherStatus))}</td><td class="n">${fmtInt(s.errors)}</td></tr>`,
    )
    .join('');
  const title = `Load test ${meta.scenario} — ${meta.targetRate} req/s × ${meta.durationSeconds} s`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;margin:24px auto;max-width:960px;color:#1d2330;padding:0 12px}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:28px 0 8px}
table{border-collapse:collapse;margin:6px 0}th,td{padding:3px 10px;border-bottom:1px solid #e3e6ec;text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}
.meta td{border:0;padding:1px 10px 1px 0}.muted{color:#667085}
svg text{font-size:11px;fill:#475467}svg .grid{stroke:#eaecf0}svg .axis{stroke:#98a2b3}
svg polyline{fill:none;stroke-width:2}svg polyline.p50{stroke:#2e6ff2}svg polyline.p99{stroke:#d92d20}svg circle.p50{fill:#2e6ff2}svg circle.p99{fill:#d92d20}
svg rect.ok,i.ok{fill:#3aa76d;background:#3aa76d}svg rect.fault,i.fault{fill:#f79009;background:#f79009}svg rect.throttled,i.throttled{fill:#d92d20;background:#d92d20}
svg rect.other,i.other{fill:#7a5af8;background:#7a5af8}svg rect.error,i.error{fill:#344054;background:#344054}
i.p50{background:#2e6ff2}i.p99{background:#d92d20}
.legend span{margin-right:16px}.legend i{display:inline-block;width:12px;height:12px;margin-right:5px;vertical-align:-1px;border-radius:2px}
details{margin-top:8px}ul.notes li{margin:2px 0}
</style></head><body>
<h1>${esc(title)}</h1>
<table class="meta">
<tr><td class="muted">target</td><td>${esc(meta.url)} as ${esc(meta.user)} — ${meta.mix.map((m) => `${esc(m.api)}${meta.mix.length > 1 ? ` (${(m.weight * 100).toFixed(0)} %)` : ''}`).join(', ')}</td></tr>
<tr><td class="muted">load</td><td>${fmtInt(meta.targetRate)} req/s (autocannon overallRate) for ${meta.durationSeconds} s over ${meta.connections.effective} connections${meta.interrupted ? ' — interrupted' : ''}</td></tr>
<tr><td class="muted">achieved</td><td>${fmtInt(result.sent)} sent, ${fmtInt(totals.responses)} answered in ${meta.elapsedSeconds.toFixed(2)} s = ${result.achievedRate.toFixed(1)} answers/s</td></tr>
<tr><td class="muted">when</td><td>${esc(meta.startedAt)} → ${esc(meta.finishedAt)} (Node ${esc(meta.node)}, autocannon ${esc(meta.autocannon)})</td></tr>
<tr><td class="muted">reporting</td><td><a href="${esc(reportingUrl(meta.url))}">${esc(reportingUrl(meta.url))}</a> — the target's delivery indicators and message-center statistics (operators only: log on, or Basic login and password)</td></tr>
</table>
<h2>Latency (ms)</h2>
<table><tr><th></th><th>p50</th><th>p90</th><th>p99</th><th>max</th><th>mean</th><th>answers</th></tr>
<tr><th>all answers</th><td class="n">${fmtMs(totals.latency.p50)}</td><td class="n">${fmtMs(totals.latency.p90)}</td><td class="n">${fmtMs(totals.latency.p99)}</td><td class="n">${fmtMs(totals.latency.max)}</td><td class="n">${fmtMs(totals.latency.mean)}</td><td class="n">${fmtInt(totals.latency.count)}</td></tr>
<tr><th>2xx OK only</th><td class="n">${fmtMs(totals.okLatency.p50)}</td><td class="n">${fmtMs(totals.okLatency.p90)}</td><td class="n">${fmtMs(totals.okLatency.p99)}</td><td class="n">${fmtMs(totals.okLatency.max)}</td><td class="n">${fmtMs(totals.okLatency.mean)}</td><td class="n">${fmtInt(totals.okLatency.count)}</td></tr>
</table>
<h2>Latency percentiles per second</h2>
${legend([
  { name: 'p50', cls: 'p50' },
  { name: 'p99', cls: 'p99' },
])}
${renderLatencySvg(series)}
<h2>Answers per second by outcome</h2>
${legend(OUTCOME_LAYERS)}
${renderOutcomesSvg(series)}
<h2>Outcomes</h2>
<table><tr><th></th><th>answers</th><th>2xx OK</th><th>2xx faults</th><th>429</th><th>other non-2xx</th><th>errors</th><th>timeouts</th></tr>
${countsRow('all', totals)}
${
  meta.mix.length > 1
    ? Object.entries(totals.byApi)
        .sort()
        .map(([api, c]) => countsRow(api, c))
        .join('')
    : ''
}
</table>
${faultRows ? `<h2>SOAP faults by code</h2><table><tr><th>code</th><th>count</th><th>meaning</th></tr>${faultRows}</table>` : ''}
${
  totals.errorMessages.length
    ? `<h2>Errors without an answer</h2><table>${totals.errorMessages
        .slice(0, 10)
        .map((e) => `<tr><td class="n">${fmtInt(e.count)}</td><td>${esc(e.message)}</td></tr>`)
        .join('')}</table>`
    : ''
}
${result.notes.length ? `<h2>Notes</h2><ul class="notes">${result.notes.map((n) => `<li>${esc(n)}</li>`).join('')}</ul>` : ''}
<details><summary>Per-second table</summary>
<table><tr><th>s</th><th>answers</th><th>p50</th><th>p90</th><th>p99</th><th>max</th><th>2xx OK</th><th>faults</th><th>429</th><th>other</th><th>errors</th></tr>${secondRows}</table>
</details>
<p class="muted">Latency is measured by autocannon from writing a request to reading its whole answer. The rate is autocannon's
overallRate: a per-second quota per connection, sent as fast as answers come, so load arrives in bursts at the start of each second.
The raw per-second series is in the JSON file written beside this page.</p>
</body></html>
`;
}

/** Writes `<outDir>/loadtest-<scenario>-<time>.html` and `.json`; returns their absolute paths. */
export function writeReports(result: LoadTestResult, outDir: string): { html: string; json: string } {
  const dir = resolve(outDir);
  mkdirSync(dir, { recursive: true });
  const stamp = result.meta.startedAt.replace(/[-:.]/g, ''); // 20261128T112233123Z: unique per run
  const base = join(dir, `loadtest-${result.meta.scenario}-${stamp}`);
  const files = { html: `${base}.html`, json: `${base}.json` };
  writeFileSync(files.json, `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(files.html, renderHtmlReport(result));
  return files;
}
