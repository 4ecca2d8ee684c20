import express, { Router, type Request, type Response } from 'express';
import { REPORTING_SUMMARY_METHOD, reportingSummaryParamsSchema, SERVICES, type DeliveryReport, type ReportingSummary } from '@cap/contracts';
import { escapeAttr } from '@cap/campaign-xml';
import { appError, ErrorCatalogue, isAppError } from '@cap/platform-errors';
import type { Logger } from '@cap/platform-logger';
import type { Downstreams } from '../downstream.client';
import type { Authenticator } from '../session/authenticator';
import { describeFailure, identifyHttpOperator, isRefused, sendHttpError } from './http-operator';

/** The reports `/report/<name>` answers; any other name is a 404 naming these. */
export const REPORT_NAMES = ['deliveryFeedback', 'messageCenter'] as const;
type ReportName = (typeof REPORT_NAMES)[number];

/** Most deliveries one selection may name (one reporting.summary call each, in parallel). */
export const MAX_REPORT_SELECTION = 50;
/** Largest form body (the SDK posts formData, url-encoded). */
const MAX_FORM_BYTES = 64 * 1024;

const a = (name: string, value: string | number | null | undefined) => (value === null || value === undefined ? '' : ` ${name}="${escapeAttr(String(value))}"`);

function deliveryXml(d: DeliveryReport): string {
  const i = d.indicators;
  const ratio = i.processed > 0 ? ((100 * i.success) / i.processed).toFixed(2) : '0';
  return (
    `<delivery${a('id', d.id)}${a('internalName', d.internalName)}${a('label', d.label)}${a('template', d.template)}${a('state', d.state)}` +
    `${a('failureText', d.failureText)}${a('created', d.created)}${a('finished', d.finished)}${a('targeted', i.targeted)}${a('excluded', i.excluded)}` +
    `${a('toDeliver', i.toDeliver)}${a('processed', i.processed)}${a('success', i.success)}${a('error', i.error)}${a('errorRendering', i.errorRendering)}` +
    `${a('errorRefused', i.errorRefused)}${a('errorUnreachable', i.errorUnreachable)}${a('retryPending', d.retryPending)}${a('successRatio', ratio)}/>`
  );
}

/**
 * `POST|GET /report/<name>?_noRender=true&_schema=&_context=&_selection=&_selectionCount=` (the SDK's
 * getReportData): a report's data as Campaign's `<ctx>` document, which the SDK turns into XML or JSON
 * (SimpleJson, BadgerFish) as its caller asks. Operators only. Reports (docs/files-and-reports.md):
 *
 * - `deliveryFeedback`: per-delivery indicators (targeted, sent, errors…) of the selected `nms:delivery` ids
 *   (`_context=selection`, at most 50), or of the deliveries created in the period (`_context=global`).
 * - `messageCenter` (`_context=global`): the message-center statistics per event type, and their total.
 *
 * The period is the form's `from`/`to` (UTC days, default the last 7 days). The figures come from cloud-executor
 * (`reporting.summary` over the Kafka RPC), as the reporting page's.
 */
export function createReportDataRouter(deps: { downstreams: Downstreams; authenticator: Authenticator; logger: Logger }): Router {
  const router = Router();
  const form = express.urlencoded({ extended: false, limit: MAX_FORM_BYTES, parameterLimit: 100 });

  const handle = async (req: Request, res: Response) => {
    const caller = await identifyHttpOperator(deps, req, res);
    if (isRefused(caller)) return;
    const name = String(req.params['name'] ?? '');
    if (!(REPORT_NAMES as readonly string[]).includes(name))
      return sendHttpError(res, appError(ErrorCatalogue.REPORT_UNKNOWN, { report: name.slice(0, 64), reports: REPORT_NAMES.join(', ') }));
    const report = name as ReportName;
    const bad = (why: string) => sendHttpError(res, appError(ErrorCatalogue.REPORT_BAD_CONTEXT, { report, why }));
    const q = (key: string) => (typeof req.query[key] === 'string' ? (req.query[key] as string) : '');
    const body = (req.body && typeof req.body === 'object' ? req.body : {}) as Record<string, unknown>;
    const context = q('_context') || 'global';
    const schema = q('_schema');
    const selectionText = q('_selection');
    if (context !== 'global' && context !== 'selection') return bad(`_context must be 'selection' or 'global', not '${context.slice(0, 32)}'`);
    if (report === 'messageCenter' && context !== 'global') return bad("this report takes _context 'global' only");

    let selection: string[] = [];
    if (context === 'selection') {
      if (schema !== 'nms:delivery') return bad(`a selection is of nms:delivery records, not '${schema.slice(0, 64)}'`);
      selection = selectionText.split(',').map((s) => s.trim());
      if (selection.length === 0 || selection.some((id) => !/^\d{1,19}$/.test(id))) return bad('_selection must be delivery ids separated by commas');
      if (selection.length > MAX_REPORT_SELECTION) return bad(`at most ${MAX_REPORT_SELECTION} deliveries in one selection`);
      selection = [...new Set(selection)];
    }
    const period = Object.fromEntries(['from', 'to'].flatMap((k) => (typeof body[k] === 'string' && body[k] !== '' ? [[k, body[k]]] : [])));
    const calls = (context === 'selection' ? selection.map((delivery) => ({ ...period, delivery })) : [period]).map((params) => {
      const parsed = reportingSummaryParamsSchema.safeParse(params);
      if (!parsed.success) throw appError(ErrorCatalogue.REPORT_BAD_CONTEXT, { report, why: parsed.error.issues[0]?.message ?? 'bad period' });
      return parsed.data;
    });

    let summaries: ReportingSummary[];
    try {
      summaries = await Promise.all(calls.map((params) => deps.downstreams.call<ReportingSummary>(SERVICES.cloudExecutor, REPORTING_SUMMARY_METHOD, params)));
    } catch (err) {
      deps.logger.warn({ event: 'report.failed', report, err: describeFailure(err) }, 'report data failed');
      return sendHttpError(res, appError(ErrorCatalogue.REPORT_UNAVAILABLE, { report, why: isAppError(err) ? err.code : 'no answer' }));
    }
    const first = summaries[0]!;
    const head =
      `<ctx${a('_context', context)}${a('_reportContext', report)}${a('_schema', schema || null)}${a('_selection', context === 'selection' ? selection.join(',') : null)}` +
      `${a('_selectionCount', context === 'selection' ? selection.length : null)}${a('_hasFilter', 'false')}${a('generatedAt', first.generatedAt)}` +
      `${a('from', first.period.from)}${a('to', first.period.to)}>`;
    let data: string;
    if (report === 'deliveryFeedback') {
      const deliveries = summaries.flatMap((s) => s.deliveries);
      data = `<data${a('count', deliveries.length)}${a('truncated', summaries.some((s) => s.deliveriesTruncated) ? 'true' : 'false')}>${deliveries.map(deliveryXml).join('')}</data>`;
    } else {
      const mc = first.messageCenter;
      const stat = (tag: string, e: Omit<ReportingSummary['messageCenter']['total'], never>, extra = '') =>
        `<${tag}${extra}${a('processed', e.processed)}${a('sent', e.sent)}${a('failed', e.failed)}${a('ignored', e.ignored)}${a('expired', e.expired)}` +
        `${a('retried', e.retried)}${a('meanLatencyMs', e.meanLatencyMs)}/>`;
      data = `<data>${mc.eventTypes.map((e) => stat('eventType', e, `${a('name', e.eventType)}${a('lastEvent', e.lastEvent)}`)).join('')}${stat('total', mc.total)}</data>`;
    }
    // The SDK reads the answer as a <ctx> document: no XML declaration in front.
    res.set('Cache-Control', 'no-store').type('text/xml').send(`${head}${data}</ctx>`);
  };

  const run = (req: Request, res: Response) =>
    handle(req, res).catch((err: unknown) => {
      if (isAppError(err)) return sendHttpError(res, err);
      deps.logger.error({ event: 'report.crashed', err }, 'report data crashed');
      res.status(500).type('text/plain').send('The report failed\n');
    });
  router.get('/report/:name', run);
  router.post('/report/:name', form, run);
  // A form that cannot be read (too large, bad charset) gets a Campaign-style refusal, not Express's page.
  router.use('/report', (err: unknown, req: Request, res: Response, next: (e?: unknown) => void) => {
    const e = err as { type?: string; status?: number };
    if (e.status && e.status >= 400 && e.status < 500)
      return sendHttpError(
        res,
        appError(ErrorCatalogue.REPORT_BAD_CONTEXT, {
          report: String(req.path).slice(1, 65),
          why: e.type === 'entity.too.large' ? 'the form is larger than 64 KiB' : 'unreadable form',
        }),
        e.status,
      );
    next(err);
  });
  return router;
}
