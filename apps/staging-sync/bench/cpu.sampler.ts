import { readdirSync, readFileSync } from 'node:fs';

/**
 * Where the machine's CPU went during a measurement (Linux /proc): how busy all cores were, and how many
 * cores' worth each group of processes used. It tells whether a second staging-sync worker had cores to use
 * (P4 "where cores allow"): on a machine already busy with one worker, PostgreSQL and Kafka, it cannot.
 */
export interface CpuUse {
  cores: number;
  /** Share of all cores' time that was busy (0–1). */
  machineBusy: number;
  /** Cores' worth used by each group (1 = one core fully busy over the window). */
  coresUsed: Record<string, number>;
}

type Grouping = (pid: number, comm: string) => string;

interface Sample {
  at: number;
  busy: number;
  total: number;
  cores: number;
  byPid: Map<number, { group: string; ticks: number }>;
}

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

function readMachine(): { busy: number; total: number; cores: number } {
  const lines = readFileSync('/proc/stat', 'utf8').split('\n');
  const fields = lines[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = fields.slice(0, 8).reduce((a, b) => a + b, 0);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
  return { busy: total - idle, total, cores: lines.filter((l) => /^cpu\d+ /.test(l)).length };
}

function readProcesses(groupOf: Grouping): Map<number, { group: string; ticks: number }> {
  const out = new Map<number, { group: string; ticks: number }>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // Fields 14 and 15 of stat (utime, stime) are the 12th and 13th after the command name.
      const ticks = Number(rest[11]) + Number(rest[12]);
      const pid = Number(name);
      out.set(pid, { group: groupOf(pid, comm), ticks });
    } catch {
      // the process ended while being read
    }
  }
  return out;
}

function sample(groupOf: Grouping): Sample {
  return { at: performance.now(), ...readMachine(), byPid: readProcesses(groupOf) };
}

/** Starts measuring; `stop()` returns the use since. Processes that started or ended meanwhile count for what they used in the window. */
export function startCpuMeasure(groupOf: Grouping): { stop(): CpuUse } {
  const first = sample(groupOf);
  return {
    stop() {
      const last = sample(groupOf);
      const seconds = (last.at - first.at) / 1000;
      const coresUsed: Record<string, number> = {};
      for (const [pid, p] of last.byPid) {
        const used = p.ticks - (first.byPid.get(pid)?.ticks ?? 0);
        coresUsed[p.group] = (coresUsed[p.group] ?? 0) + used;
      }
      for (const g of Object.keys(coresUsed)) coresUsed[g] = Math.round((coresUsed[g]! / TICKS_PER_SECOND / seconds) * 100) / 100;
      const machineBusy = Math.round(((last.busy - first.busy) / Math.max(1, last.total - first.total)) * 100) / 100;
      return { cores: last.cores, machineBusy, coresUsed };
    },
  };
}

/** The groups the pipeline benchmarks report: the services under test, PostgreSQL, the Kafka broker, the rest. */
export function pipelineGroups(services: ReadonlyMap<number, string>): Grouping {
  return (pid, comm) =>
    services.get(pid) ??
    (comm === 'postgres' ? 'postgresql' : comm === 'java' ? 'kafka' : comm.startsWith('node') || comm === 'MainThread' ? 'other node' : 'other');
}
