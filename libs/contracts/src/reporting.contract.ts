import { z } from 'zod';

/** RPC method of cloud-executor that answers the reporting summary. */
export const REPORTING_SUMMARY_METHOD = 'reporting.summary';

const day = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'expected a UTC day YYYY-MM-DD')
  .refine((d) => !Number.isNaN(Date.parse(`${d}T00:00:00Z`)), 'not a date');

/**
 * What the summary covers: the UTC days `from`..`to` (both included; defaults: the last 7 days up to today), the
 * `limit` most recent deliveries created in that period (50 by default, at most 500), or one delivery by `delivery` id.
 */
export const reportingSummaryParamsSchema = z
  .object({
    from: day.optional(),
    to: day.optional(),
    limit: z.coerce.number().int().min(1).max(500).optional(),
    delivery: z
      .string()
      .regex(/^\d{1,19}$/, 'expected a delivery id')
      .optional(),
  })
  .strict()
  .refine((p) => !p.from || !p.to || p.from <= p.to, { message: "'from' is after 'to'" });

export type ReportingSummaryParams = z.infer<typeof reportingSummaryParamsSchema>;

/** The counters of a delivery action (nms:delivery `properties/@…`). */
export interface DeliveryIndicators {
  targeted: number;
  excluded: number;
  toDeliver: number;
  processed: number;
  /** Sent. */
  success: number;
  /** Failed, in all … */
  error: number;
}

/** A delivery action's indicators: the fields of nms:delivery `properties/@…`, and its state. */
export interface DeliveryReport {
  id: string;
  internalName: string;
  label: string;
  /** The template's internal name (nms:delivery @deliveryCode). */
  template: string;
  /** nms:delivery @state: 45 start requested, 55 in progress, 72 paused, 85 stopped, 95 finished, 99 failed. */
  state: number;
  failureText: string | null;
  created: string;
  finished: string | null;
  indicators: DeliveryIndicators & {
    /** … of which personalisation errors (reason 15), refusals (1 and 20), unreachable (3). */
    errorRendering: number;
    errorRefused: number;
    errorUnreachable: number;
  };
  /** Messages still pending that wait for a retry after a temporary failure. */
  retryPending: number;
}

/** Message-center statistics of one event type over the period: the sums of nms:eventStat's counters. */
export interface EventTypeReport {
  eventType: string;
  processed: number;
  sent: number;
  failed: number;
  ignored: number;
  expired: number;
  retried: number;
  latencyMsTotal: number;
  /** latencyMsTotal / processed, rounded (null when nothing was processed). */
  meanLatencyMs: number | null;
  lastEvent: string | null;
}

export interface ReportingSummary {
  generatedAt: string;
  period: { from: string; to: string };
  deliveries: DeliveryReport[];
  /** More deliveries were created in the period than `limit`. */
  deliveriesTruncated: boolean;
  messageCenter: {
    eventTypes: EventTypeReport[];
    total: Omit<EventTypeReport, 'eventType' | 'lastEvent'>;
  };
}
