import { Router, type Request } from 'express';
import { REPORTING_SUMMARY_METHOD, reportingSummaryParamsSchema, SERVICES, type ReportingSummary } from '@cap/contracts';
import { escapeAttr } from '@cap/campaign-xml';
import { isAppError } from '@cap/platform-errors';
import type { Logger } from '@cap/platform-logger';
import type { Downstreams } from './downstream.client';
import { AuthLocked } from './session/auth.throttle';
import type { Authenticator } from './session/authenticator';
import type { OperatorDirectory } from './session/operator.directory';
import type { Operator } from './session/session.model';

export const REPORTING_PATH = '/nl/jsp/reporting.jsp';

/** The authenticator resolves SOAP calls; this page is no SOAP call, so its tokens come from the HTTP headers only. */
const NO_SOAP_CALL = { urn: 'xtk:session', schemaId: 'xtk:session', method: 'reporting', params: [], header: {} };

const STATE_NAMES: Record<number, string> = { 0: 'edition', 45: 'start requested', 55: 'in progress', 95: 'finished', 99: 'failed' };

/**
 * `GET /nl/jsp/reporting.jsp`: the reporting summary — per-delivery indicators and per-event-type message-center
 * statistics over a period (`?from=YYYY-MM-DD&to=YYYY-MM-DD`, `&limit=`, `&delivery=<id>`), as HTML, or JSON with
 * `?format=json` (or `Accept: application/json`). For operators only: a session token (X-Session-Token or the
 * __sessiontoken cookie, with X-Security-Token), a bearer JWT, or HTTP Basic login and password; anonymous callers get
 * 401. The figures come from cloud-executor over the Kafka RPC (`reporting.summary`).
 */
export function createReportingRouter(deps: { downstreams: Downstreams; authenticator: Authenticator; operators: OperatorDirectory; logger: Logger }): Router {
  const router = Router();

  const identify = async (req: Request): Promise<Operator | undefined> => {
    const authorization = req.get('authorization') ?? '';
    if (/^basic /i.test(authorization)) {
      const decoded = Buffer.from(authorization.slice(6).trim(), 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon <= 0) return undefined;
      return deps.operators.authenticate(decoded.slice(0, colon), decoded.slice(colon + 1), { loginToken: false, address: req.ip ?? '', via: 'basic' });
    }
    const caller = await deps.authenticator.authenticate(NO_SOAP_CALL, '', { ip: req.ip ?? '', headers: req.headers });
    return caller.kind === 'operator' ? caller.operator : undefined;
  };

  router.get(REPORTING_PATH, async (req, res) => {
    const json = req.query['format'] === 'json' || (req.query['format'] === undefined && req.accepts(['html', 'json']) === 'json');
    const fail = (status: number, message: string) => {
      if (status === 401) res.set('WWW-Authenticate', 'Basic realm="Campaign", charset="UTF-8"');
      if (json) res.status(status).json({ error: message });
      else res.status(status).type('text/plain').send(`Error\n${message}\n`);
    };
    let operator: Operator | undefined;
    try {
      operator = await identify(req);
    } catch (err) {
      if (err instanceof AuthLocked) {
        res.set('Retry-After', String(err.retryAfterSeconds));
        return fail(429, err.message);
      }
      if (!isAppError(err) || err.code.startsWith('XSV-')) return fail(401, 'The credentials were refused: log on again');
      deps.logger.warn({ event: 'reporting.auth.failed', code: err.code, err: err.message }, 'reporting: operator could not be identified');
      return fail(503, `The operator could not be identified now (${err.code}); retry later`);
    }
    if (!operator)
      return fail(401, 'Log on first: a session token (X-Session-Token or the __sessiontoken cookie), a bearer token, or Basic login and password');

    const query = Object.fromEntries(
      ['from', 'to', 'limit', 'delivery'].flatMap((k) => (typeof req.query[k] === 'string' && req.query[k] !== '' ? [[k, req.query[k]]] : [])),
    );
    const params = reportingSummaryParamsSchema.safeParse(query);
    if (!params.success)
      return fail(400, `Bad parameter: ${params.error.issues[0]?.path.join('.') || 'query'}: ${params.error.issues[0]?.message ?? 'rejected'}`);
    let summary: ReportingSummary;
    try {
      summary = await deps.downstreams.call<ReportingSummary>(SERVICES.cloudExecutor, REPORTING_SUMMARY_METHOD, params.data);
    } catch (err) {
      deps.logger.warn({ event: 'reporting.failed', err }, 'reporting summary failed');
      if (isAppError(err) && err.httpStatus >= 400 && err.httpStatus < 500) return fail(400, `The summary was refused (${err.code})`);
      return fail(503, `The summary is not available now${isAppError(err) ? ` (${err.code})` : ''}; retry later`);
    }
    res.set('Cache-Control', 'no-store');
    if (json) res.json(summary);
    else res.type('text/html').send(renderReportingHtml(summary, operator));
  });
  return router;
}

const h = (text: string | number | null | undefined): string => escapeAttr(String(text ?? ''));
const n = (value: number) => value.toLocaleString('en');
const ratio = (part: number, whole: number) => (whole > 0 ? `${((100 * part) / whole).toFixed(1)} %` : '');

/** The summary as one self-contained HTML page (inline CSS, no scripts); every value is escaped. */
export function renderReportingHtml(summary: ReportingSummary, operator: Pick<Operator, 'login'>): string {
  const { period, deliveries, messageCenter } = summary;
  const deliveryRows = deliveries
    .map((d) => {
      const i = d.indicators;
      return (
        `<tr><td><code>${h(d.id)}</code><br>${h(d.internalName)}</td><td>${h(d.label)}<br><span class="muted">${h(d.template)}</span></td>` +
        `<td>${h(STATE_NAMES[d.state] ?? d.state)}${d.failureText ? `<br><span class="muted">${h(d.failureText)}</span>` : ''}</td><td>${h(d.created.slice(0, 19).replace('T', ' '))}</td>` +
        [i.targeted, i.excluded, i.toDeliver, i.processed].map((v) => `<td class="n">${n(v)}</td>`).join('') +
        `<td class="n">${n(i.success)}<br><span class="muted">${ratio(i.success, i.processed)}</span></td><td class="n">${n(i.error)}</td>` +
        [i.errorRendering, i.errorRefused, i.errorUnreachable, d.retryPending].map((v) => `<td class="n">${n(v)}</td>`).join('') +
        '</tr>'
      );
    })
    .join('\n');
  const eventRow = (name: string, e: ReportingSummary['messageCenter']['total'], last: string | null, cls = '') =>
    `<tr${cls ? ` class="${cls}"` : ''}><td>${name}</td>` +
    [e.processed, e.sent, e.failed, e.ignored, e.expired, e.retried].map((v) => `<td class="n">${n(v)}</td>`).join('') +
    `<td class="n">${e.meanLatencyMs === null ? '' : n(e.meanLatencyMs)}</td><td>${h(last?.slice(0, 19).replace('T', ' '))}</td></tr>`;
  const eventRows = messageCenter.eventTypes.map((e) => eventRow(`<code>${h(e.eventType)}</code>`, e, e.lastEvent)).join('\n');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Reporting ${h(period.from)} – ${h(period.to)}</title>
<style>
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #18181b; margin: 24px auto; max-width: 1200px; padding: 0 16px; }
h1 { font-size: 20px; margin: 0 0 4px; } h2 { font-size: 16px; margin: 28px 0 8px; }
table { border-collapse: collapse; width: 100%; font-size: 13px; margin: 6px 0; }
th, td { border-bottom: 1px solid #e4e4e7; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f4f4f5; } td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
tr.total td { font-weight: 600; border-top: 2px solid #a1a1aa; }
.muted { color: #71717a; font-size: 12px; } code { font-size: 12px; }
</style>
</head>
<body>
<h1>Reporting</h1>
<p class="muted">UTC days ${h(period.from)} to ${h(period.to)} · generated ${h(summary.generatedAt)} for ${h(operator.login)} ·
<a href="?from=${h(period.from)}&amp;to=${h(period.to)}&amp;format=json">JSON</a> · the same figures through queryDef: <code>nms:delivery</code> (<code>properties/@…</code>), <code>nms:broadLogRcp</code>, <code>nms:eventStat</code>, <code>nms:broadLogEvent</code></p>
<h2>Deliveries (${n(deliveries.length)}${summary.deliveriesTruncated ? ', the most recent only: narrow the period or raise limit' : ''})</h2>
${
  deliveries.length === 0
    ? '<p class="muted">No delivery was created in this period.</p>'
    : `<table><tr><th>Delivery</th><th>Label / template</th><th>State</th><th>Created (UTC)</th><th class="n">Targeted</th><th class="n">Excluded</th><th class="n">To deliver</th><th class="n">Processed</th><th class="n">Sent</th><th class="n">Failed</th><th class="n">of which personalisation</th><th class="n">refused</th><th class="n">unreachable</th><th class="n">Waiting for a retry</th></tr>
${deliveryRows}
</table>`
}
<h2>Message center, per event type</h2>
${
  messageCenter.eventTypes.length === 0
    ? '<p class="muted">No transactional event was processed in this period.</p>'
    : `<table><tr><th>Event type</th><th class="n">Processed</th><th class="n">Sent</th><th class="n">Failed</th><th class="n">Ignored</th><th class="n">Expired</th><th class="n">Retries</th><th class="n">Mean latency (ms)</th><th>Last event (UTC)</th></tr>
${eventRows}
${eventRow('All event types', messageCenter.total, null, 'total')}
</table>`
}
</body>
</html>
`;
}
