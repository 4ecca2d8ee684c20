import { Counter, type Registry } from 'prom-client';
import type { PageMode } from '@cap/campaign-rpc';

/**
 * `cap_query_pages_total{mode}`: select pages served, by how they reached their startLine — `first` (none to
 * skip), `keyset` (the rows after a remembered page end) or `offset` (SQL OFFSET). Returns the recorder.
 */
export function createQueryPageMetrics(registry: Registry): (mode: PageMode) => void {
  const pages = new Counter({
    name: 'cap_query_pages_total',
    help: 'Select pages served, by how they reached their startLine (first, keyset, offset)',
    labelNames: ['mode'],
    registers: [registry],
  });
  for (const mode of ['first', 'keyset', 'offset'] as const) pages.inc({ mode }, 0);
  return (mode) => pages.inc({ mode });
}
