import type { ScenarioName } from './loadtest.options';
import type { LoadTestTotals, SecondSample } from './loadtest.recorder';

/** Everything a run produced: what was asked, what happened, per second and in total. Written as the JSON report. */
export interface LoadTestResult {
  meta: {
    tool: 'cap-loadtest';
    scenario: ScenarioName;
    /** `urn#Method` of each API called, with its share of the requests. */
    mix: { api: string; weight: number }[];
    url: string;
    user: string;
    targetRate: number;
    durationSeconds: number;
    /** As asked, and as autocannon ran them (it lowers connections to the rate when the rate is lower). */
    connections: { requested: number; effective: number };
    timeoutSeconds: number;
    startedAt: string;
    finishedAt: string;
    /** Seconds from the first request to the end of the run. */
    elapsedSeconds: number;
    node: string;
    autocannon: string;
    /** True when the run was stopped early (Ctrl-C / abort). */
    interrupted: boolean;
  };
  /** Requests sent and answers received per second of the run. */
  sent: number;
  achievedRate: number;
  totals: LoadTestTotals;
  series: SecondSample[];
  /** Things the reader should know (target rate not reached, method not implemented…). */
  notes: string[];
}
