import type { DeliveryIndicators } from '@cap/contracts';

/** The counters of a `cap_delivery_job` row, as PostgreSQL returns them (the job's indicators). */
export interface DeliveryJobCounters {
  state: number;
  failure_text: string | null;
  targeted: number;
  excluded: number;
  to_deliver: number;
  processed: number;
  success: number;
  error: number;
}

/** … with the failures by reason. */
export interface DeliveryJobFailureCounters extends DeliveryJobCounters {
  error_rendering: number;
  error_refused: number;
  error_unreachable: number;
}

/** The indicators of a job row, as nms:delivery and the reporting summary name them. */
export function indicatorsOf(r: DeliveryJobCounters): DeliveryIndicators {
  return { targeted: r.targeted, excluded: r.excluded, toDeliver: r.to_deliver, processed: r.processed, success: r.success, error: r.error };
}
