/**
 * Reading what one sample file of Adobe's SDK printed (pure logic, no I/O): where each sub-sample starts, whether
 * it failed and with which first error line, and the tables the runner prints. The SDK's sample helper prints a
 * banner "Sample ........... <title>" per sub-sample; a failure is whatever the sample prints on stderr (the helper
 * prints "Failed to run sample:" and the exception, or its logon wrapper prints the exception alone).
 * The runner (./run-samples.ts) tags each stderr line with STDERR_TAG so both streams arrive in order on one pipe.
 */

/** Put before each line a sample writes to stderr (by ./stderr-tag.cjs, preloaded into the sample's process). */
export const STDERR_TAG = '\u001eERR\u001e ';

export interface OutputLine {
  stream: 'out' | 'err';
  text: string;
}

export type SampleStatus = 'passed' | 'failed' | 'not run';

export interface SubSampleResult {
  title: string;
  status: SampleStatus;
  /** First error line of a failure (bounded). */
  error?: string;
}

export interface SampleFileRun {
  lines: readonly OutputLine[];
  /** null when the process was killed (timeout). */
  exitCode: number | null;
  timedOut: boolean;
  timeoutMs?: number;
}

export interface SampleFileResult {
  file: string;
  durationMs: number;
  results: SubSampleResult[];
}

/** Title given to a file without sub-samples. */
export const WHOLE_FILE = '(whole file)';
/** Title given to stderr output printed before the first sub-sample of a file that has some. */
export const SET_UP = '(set-up)';

const BANNER = /^Sample \.{3,} (.*)$/;
const TITLE = /\btitle\s*:\s*(["'`])((?:\\.|(?!\1)[^\\])*)\1/g;
// Node's own warnings on stderr are not a sample failing.
const NODE_NOISE = [/^\(node:\d+\) /, /^\(Use `node --trace-/];
const MAX_SUMMARY = 240;

/** The sub-sample titles a sample file declares (`title: "…"`), in file order, repeats kept. */
export function listSampleTitles(source: string): string[] {
  return [...source.matchAll(TITLE)].map((m) => (m[2] ?? '').replace(/\\(.)/g, '$1'));
}

/** Splits the merged output of a sample process into lines attributed to stdout or stderr. */
export function splitTaggedOutput(text: string): OutputLine[] {
  const lines = text.split(/\r?\n/);
  if (lines.at(-1) === '') lines.pop();
  return lines.map((line) => (line.startsWith(STDERR_TAG) ? { stream: 'err', text: line.slice(STDERR_TAG.length) } : { stream: 'out', text: line }));
}

function bound(text: string): string {
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return oneLine.length <= MAX_SUMMARY ? oneLine : `${oneLine.slice(0, MAX_SUMMARY - 1)}…`;
}

function unquote(value: string): string {
  const v = value.trim().replace(/,$/, '');
  const q = v[0];
  if ((q === "'" || q === '"' || q === '`') && v.endsWith(q) && v.length >= 2) return v.slice(1, -1).replace(/\\(['"`\\])/g, '$1');
  return v;
}

/**
 * The first error line of what a failing sub-sample printed on stderr: the `message` of an inspected exception
 * (CampaignException), else the `statusText` of an inspected HttpError, else the first line (an Error's first
 * stack line), without the helper's "Failed to run sample:" prefix.
 */
export function summarizeError(errLines: readonly string[]): string {
  const lines = errLines.filter((l) => l.trim() !== '');
  for (const key of ['message', 'statusText']) {
    const re = new RegExp(`^\\s*${key}: (.+)$`);
    for (const line of lines) {
      const m = re.exec(line);
      if (m?.[1]) return bound(unquote(m[1]));
    }
  }
  const first = (lines[0] ?? '').replace(/^Failed to run sample:\s*/, '');
  return bound(first || 'failed (no message)');
}

interface Unit {
  title: string;
  errLines: string[];
}

/**
 * The verdict of every sub-sample of one file run. `expectedTitles` (from listSampleTitles) names those never
 * reached ('not run'); the i-th banner is the i-th sub-sample. A sub-sample fails when it printed on stderr; the
 * one running when the process timed out or exited non-zero fails with that reason if it printed nothing.
 */
export function parseSampleRun(run: SampleFileRun, expectedTitles: readonly string[]): SubSampleResult[] {
  const preamble: Unit = { title: expectedTitles.length === 0 ? WHOLE_FILE : SET_UP, errLines: [] };
  const units: Unit[] = [];
  for (const line of run.lines) {
    const current = units.at(-1) ?? preamble;
    if (line.stream === 'out') {
      const banner = BANNER.exec(line.text);
      if (banner) units.push({ title: banner[1] ?? '', errLines: [] });
      continue;
    }
    if (NODE_NOISE.some((re) => re.test(line.text))) continue;
    current.errLines.push(line.text);
  }

  const reported: Unit[] = [];
  if (units.length === 0 || preamble.errLines.length > 0) reported.push(preamble);
  reported.push(...units);
  const results: SubSampleResult[] = reported.map((u) =>
    u.errLines.length > 0 ? { title: u.title, status: 'failed', error: summarizeError(u.errLines) } : { title: u.title, status: 'passed' },
  );

  const crashed = run.timedOut || (run.exitCode !== null && run.exitCode !== 0) || run.exitCode === null;
  const last = results.at(-1);
  if (crashed && last && last.status !== 'failed') {
    last.status = 'failed';
    last.error = run.timedOut
      ? `timed out after ${Number(((run.timeoutMs ?? 0) / 1000).toFixed(1))} s`
      : run.exitCode === null
        ? 'killed'
        : `exited with code ${run.exitCode}`;
  }
  for (const title of expectedTitles.slice(units.length)) results.push({ title, status: 'not run' });
  return results;
}

function counts(results: readonly SubSampleResult[]): Record<SampleStatus, number> {
  const c: Record<SampleStatus, number> = { passed: 0, failed: 0, 'not run': 0 };
  for (const r of results) c[r.status] += 1;
  return c;
}

/** The console table: per file its counts, per sub-sample its verdict and first error line. */
export function formatTable(files: readonly SampleFileResult[]): string {
  const out: string[] = [];
  const total: Record<SampleStatus, number> = { passed: 0, failed: 0, 'not run': 0 };
  const width = Math.min(70, Math.max(20, ...files.flatMap((f) => f.results.map((r) => r.title.length))));
  for (const f of files) {
    const c = counts(f.results);
    for (const k of Object.keys(total) as SampleStatus[]) total[k] += c[k];
    out.push(`${f.file}  ${c.passed}/${f.results.length} passed  (${(f.durationMs / 1000).toFixed(1)} s)`);
    for (const r of f.results) {
      const verdict = r.status === 'passed' ? 'passed' : r.status === 'failed' ? 'FAILED' : 'not run';
      const title = r.title.length > width ? `${r.title.slice(0, width - 1)}…` : r.title.padEnd(width);
      out.push(`  ${verdict.padEnd(7)}  ${title}${r.error ? `  ${r.error}` : ''}`.trimEnd());
    }
    out.push('');
  }
  out.push(`total: ${total.passed} passed, ${total.failed} failed, ${total['not run']} not run (${files.length} files)`);
  return `${out.join('\n')}\n`;
}

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\s+/g, ' ').trim();

/** One markdown table row per sub-sample: | `file` | title | status | first error line |. */
export function formatMarkdownRows(files: readonly SampleFileResult[]): string {
  return files.flatMap((f) => f.results.map((r) => `| \`${cell(f.file)}\` | ${cell(r.title)} | ${r.status} | ${cell(r.error ?? '')} |`)).join('\n');
}

export interface MeasurementInfo {
  /** ISO date (YYYY-MM-DD) of the run. */
  date: string;
  sdkVersion: string;
  url: string;
  /** The run wrote the samples' fixtures first (`--prepare`). */
  prepared?: boolean;
}

/** The generated part of docs/compatibility.md: when and against what it was measured, the counts, one row per sub-sample. */
export function formatMarkdownSection(files: readonly SampleFileResult[], info: MeasurementInfo): string {
  const c = counts(files.flatMap((f) => f.results));
  const perFile = files.map((f) => {
    const n = counts(f.results);
    return `| \`${cell(f.file)}\` | ${n.passed} | ${n.failed} | ${n['not run']} |`;
  });
  return [
    `Measured ${info.date} with \`@adobe/acc-js-sdk\` ${info.sdkVersion} against ${info.url}${info.prepared ? " (with `--prepare`: the fixture Adobe's test instance has for sample 030 written first)" : ''}: ${c.passed} passed, ${c.failed} failed, ${c['not run']} not run.`,
    '',
    '| sample file | passed | failed | not run |',
    '|---|---|---|---|',
    ...perFile,
    '',
    '| sample file | sub-sample | status | first error line |',
    '|---|---|---|---|',
    formatMarkdownRows(files),
  ].join('\n');
}

/** Replaces the text between two marker lines of a document (markers kept); throws when either is missing. */
export function replaceSection(doc: string, begin: string, end: string, content: string): string {
  const from = doc.indexOf(begin);
  const to = doc.indexOf(end, from + begin.length);
  if (from < 0 || to < 0) throw new Error(`the document has no ${begin} … ${end} markers`);
  return `${doc.slice(0, from + begin.length)}\n${content}\n${doc.slice(to)}`;
}
