import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchRunInfo } from './bench.run-info';

/**
 * One figure of a benchmark stated against its same-run baseline, so that it means the same on any machine
 * (docs/benchmarks.md, "Reading a figure"): `npm run bench -- --quick` gathers these rows from every benchmark
 * into one table.
 */
export interface RatioRow {
  /** The target's id in docs/targets.md (P1…P10). */
  id: string;
  measure: string;
  value: number;
  unit: string;
  /** What the figure is compared with, measured in the same run (absent for a figure with no physical baseline). */
  baseline?: { measure: string; value: number; unit: string };
  /** value ÷ baseline, or the figure's own ratio when the benchmark states one. */
  ratio?: number;
  /** How the ratio reads: a share of the baseline (default, printed in %) or a speed-up (printed as ×). */
  ratioAs?: 'share' | 'times';
  /** The target as written in docs/targets.md, in the figure's terms. */
  goal: string;
  met: boolean | null;
}

export interface RatioReport {
  bench: string;
  run: BenchRunInfo;
  rows: RatioRow[];
}

/** Where a benchmark's ratio rows go: reports/bench/ratios/<bench>.json under the checkout. */
export function ratiosDir(root: string): string {
  return join(root, 'reports', 'bench', 'ratios');
}

/** Writes the benchmark's rows (replacing its previous ones) and returns the file written. */
export function recordRatios(root: string, bench: string, run: BenchRunInfo, rows: RatioRow[]): string {
  const dir = ratiosDir(root);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${bench}.json`);
  const report: RatioReport = { bench, run, rows };
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  return file;
}
