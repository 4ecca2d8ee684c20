import { execSync } from 'node:child_process';
import { cpus, loadavg } from 'node:os';

/** What a benchmark's figures were measured on: they are quoted with it (docs/benchmarks.md). */
export interface BenchRunInfo {
  /** ISO date and time of the run (UTC). */
  date: string;
  /** The commit measured, marked when the working tree had uncommitted changes. */
  commit: string;
  node: string;
  cores: number;
  cpuModel: string;
  /** 1-, 5- and 15-minute load averages when the run started: a busy machine lowers every figure. */
  loadAverage: number[];
}

/** The commit of the checkout in `cwd` (short hash), or `unknown` outside a git checkout. */
export function commitOf(cwd: string): string {
  try {
    const head = execSync('git rev-parse --short HEAD', { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = execSync('git status --porcelain --untracked-files=no', { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() !== '';
    return dirty ? `${head} (working tree with uncommitted changes)` : head;
  } catch {
    return 'unknown';
  }
}

export function benchRunInfo(cwd: string): BenchRunInfo {
  return {
    date: new Date().toISOString(),
    commit: commitOf(cwd),
    node: process.version,
    cores: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    loadAverage: loadavg().map((l) => Math.round(l * 100) / 100),
  };
}

/** One line for a benchmark's header. */
export const runInfoLine = (info: BenchRunInfo): string =>
  `${info.date.slice(0, 16).replace('T', ' ')} UTC, commit ${info.commit}, Node ${info.node}, ${info.cores} cores (${info.cpuModel}), load average ${info.loadAverage.join(' / ')}`;
