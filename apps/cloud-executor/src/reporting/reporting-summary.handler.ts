import { reportingSummaryParamsSchema, type DeliveryReport, type EventTypeReport, type ReportingSummary } from '@cap/contracts';
import { errors } from '@cap/platform-errors';
import type { Pool } from '@cap/platform-postgres';
import { indicatorsOf, type DeliveryJobFailureCounters } from '../delivery/delivery-job.row';

const DAY_MS = 86_400_000;
const DEFAULT_DAYS = 7;
const DEFAULT_LIMIT = 50;

interface JobRow extends DeliveryJobFailureCounters {
  delivery_id: string;
  internal_name: string;
  template_name: string;
  label: string | null;
  created_at: Date;
  finished_at: Date | null;
  retry_pending: number;
}

interface StatRow {
  event_type: string;
  processed: string;
  sent: string;
  failed: string;
  ignored: string;
  expired: string;
  retried: string;
  latency: string;
  last_event: Date | null;
}

/**
 * `reporting.summary`: per-delivery indicators (the delivery jobs of cloud-executor, the same figures it publishes
 * to nms:delivery `properties/@…`) and per-event-type message-center statistics (nms:eventStat summed over the
 * period's UTC days), read in two statements from the cloud database. Served to the gateway's
 * /nl/jsp/reporting.jsp.
 */
export function createReportingSummaryHandler(deps: { pool: Pool; now?: () => Date }) {
  return async (params: unknown): Promise<ReportingSummary> => {
    const p = reportingSummaryParamsSchema.safeParse(params ?? {});
    if (!p.success) throw errors.invalidRequest('reporting.summary parameters', p.error.issues[0]?.message ?? 'rejected');
    const now = deps.now?.() ?? new Date();
    const to = p.data.to ?? now.toISOString().slice(0, 10);
    const from = p.data.from ?? new Date(Date.parse(`${to}T00:00:00Z`) - (DEFAULT_DAYS - 1) * DAY_MS).toISOString().slice(0, 10);
    const limit = p.data.limit ?? DEFAULT_LIMIT;

    const jobs = await deps.pool.query<JobRow>(
      `SELECT j.delivery_id::text, j.internal_name, j.template_name, j.definition->>'label' AS label, j.state, j.failure_text, j.created_at, j.finished_at,
              j.targeted, j.excluded, j.to_deliver, j.processed, j.success, j.error, j.error_rendering, j.error_refused, j.error_unreachable,
              (SELECT count(*) FROM cap_delivery_retry r WHERE r.delivery_id = j.delivery_id)::int AS retry_pending
         FROM cap_delivery_job j
        WHERE ${p.data.delivery ? 'j.delivery_id = $1::bigint' : 'j.created_at >= $1::date AND j.created_at < $2::date + 1'}
        ORDER BY j.created_at DESC, j.delivery_id DESC
        LIMIT ${p.data.delivery ? '$2' : '$3'}`,
      p.data.delivery ? [p.data.delivery, limit + 1] : [from, to, limit + 1],
    );
    const stats = await deps.pool.query<StatRow>(
      `SELECT event_type, sum(processed)::text AS processed, sum(sent)::text AS sent, sum(failed)::text AS failed, sum(ignored)::text AS ignored,
              sum(expired)::text AS expired, sum(retried)::text AS retried, sum(latency_ms_total)::text AS latency, max(last_event) AS last_event
         FROM nms_event_stat WHERE day BETWEEN $1::date AND $2::date GROUP BY event_type ORDER BY event_type`,
      [from, to],
    );

    const deliveries: DeliveryReport[] = jobs.rows.slice(0, limit).map((r) => ({
      id: r.delivery_id,
      internalName: r.internal_name,
      label: r.label ?? '',
      template: r.template_name,
      state: r.state,
      failureText: r.failure_text,
      created: r.created_at.toISOString(),
      finished: r.finished_at?.toISOString() ?? null,
      indicators: {
        ...indicatorsOf(r),
        errorRendering: r.error_rendering,
        errorRefused: r.error_refused,
        errorUnreachable: r.error_unreachable,
      },
      retryPending: r.retry_pending,
    }));
    const eventTypes: EventTypeReport[] = stats.rows.map((r) => {
      const processed = Number(r.processed);
      const latencyMsTotal = Number(r.latency);
      return {
        eventType: r.event_type,
        processed,
        sent: Number(r.sent),
        failed: Number(r.failed),
        ignored: Number(r.ignored),
        expired: Number(r.expired),
        retried: Number(r.retried),
        latencyMsTotal,
        meanLatencyMs: processed > 0 ? Math.round(latencyMsTotal / processed) : null,
        lastEvent: r.last_event?.toISOString() ?? null,
      };
    });
    const sum = (key: 'processed' | 'sent' | 'failed' | 'ignored' | 'expired' | 'retried' | 'latencyMsTotal') => eventTypes.reduce((n, e) => n + e[key], 0);
    const processed = sum('processed');
    return {
      generatedAt: now.toISOString(),
      period: { from, to },
      deliveries,
      deliveriesTruncated: jobs.rows.length > limit,
      messageCenter: {
        eventTypes,
        total: {
          processed,
          sent: sum('sent'),
          failed: sum('failed'),
          ignored: sum('ignored'),
          expired: sum('expired'),
          retried: sum('retried'),
          latencyMsTotal: sum('latencyMsTotal'),
          meanLatencyMs: processed > 0 ? Math.round(sum('latencyMsTotal') / processed) : null,
        },
      },
    };
  };
}
