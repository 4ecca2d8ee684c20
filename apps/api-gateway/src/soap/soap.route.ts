import { Router, type NextFunction, type Request, type Response } from 'express';
import { Histogram, type Registry } from 'prom-client';
import { buildSoapFault, buildSoapResponse, parseSoapRequestAsync, SOAP_FAULTS, SoapFault, type SoapCall } from '@cap/campaign-soap';
import { XML_SLICE_LENGTH, type XmlLimits } from '@cap/campaign-xml';
import { ErrorCodes, isAppError } from '@cap/platform-errors';
import { RPC_SECONDS_BUCKETS } from '@cap/platform-kafka';
import { newCorrelationId, type Logger } from '@cap/platform-logger';
import { boundedLabels } from '../bounded-labels';
import { AuthLocked } from '../session/auth.throttle';
import type { Caller } from '../session/authenticator';
import { soapBodyReader } from './soap-body.reader';
import type { Dispatcher, ResolvedCall } from './soap.dispatcher';

export interface SoapRouteOptions {
  dispatcher: Dispatcher;
  logger: Logger;
  maxBodyBytes: number;
  /** What a request's XML may hold; limits left out take DEFAULT_XML_LIMITS (libs/campaign/xml/src/xml.parser.ts). */
  xmlLimits: Partial<XmlLimits>;
  /** Called once the caller is known, before the SOAP method runs: throws/answers to refuse (rate limiting). */
  admit?: (call: SoapCall, caller: Caller, req: Request, resolved: ResolvedCall) => Promise<void>;
  /** Where `cap_soap_request_seconds` is registered (none: not measured). */
  registry?: Registry;
}

/** Distinct method labels kept; callers can send any name, so the label set is bounded. */
const MAX_METHOD_LABELS = 500;

/** Thrown by `admit` to answer with a plain HTTP response instead of SOAP (429 with its headers). */
export class HttpRefusal extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
    readonly headers: Record<string, string>,
  ) {
    super(body);
  }
}

/** Too many failed authentications from this login or address: 429, like a rate limit, with its Retry-After. */
export function authLockedRefusal(err: AuthLocked): HttpRefusal {
  return new HttpRefusal(429, `${err.message}\n`, { 'Retry-After': String(err.retryAfterSeconds) });
}

const XML_TYPE = 'text/xml;charset=utf-8';

/**
 * Runs the tasks given to it one at a time, in arrival order. Large bodies are parsed through it: parsing
 * yields to the event loop between slices, so without it every large body in flight would hold its own
 * half-built tree at once (ten hostile ones at ~60 MB each exhausted the gateway's heap), where one at a time
 * costs no throughput (parsing is CPU work on the one thread anyway).
 */
function createOneAtATime(): <T>(task: () => Promise<T>) => Promise<T> {
  let last: Promise<unknown> = Promise.resolve();
  return <T>(task: () => Promise<T>) => {
    const run = last.then(task, task);
    last = run.catch(() => undefined);
    return run;
  };
}

/**
 * A SOAP answer, written straight to node's response: HTTP 200, XML, its length. Express's `res.send` would
 * also parse the content type, test freshness and compute an ETag, none of which applies to a SOAP answer
 * (never cached), at a cost measurable at thousands of calls a second (benchmark P1).
 */
function sendXml(res: Response, xml: string): void {
  res.statusCode = 200;
  res.setHeader('Content-Type', XML_TYPE);
  res.setHeader('Content-Length', Buffer.byteLength(xml));
  res.end(xml);
}

/**
 * `POST /nl/jsp/soaprouter.jsp`, Campaign's SOAP router: any content type (text/xml, application/soap+xml…),
 * routing by SOAPAction header, `soapAction` query parameter or body. Faults are HTTP 200 with SOAP-ENV:Fault
 * (the SDK parses faults only on 2xx); bodies over the limit get 413; refusals (rate limit) get their status.
 */
export function createSoapRouter(options: SoapRouteOptions): Router {
  const router = Router();
  const sendFault = (res: Response, fault: SoapFault) => sendXml(res, buildSoapFault(fault));
  const duration = options.registry
    ? new Histogram({
        name: 'cap_soap_request_seconds',
        help: 'SOAP calls from the parsed request to the answer written, by method and outcome (ok, fault, refused)',
        labelNames: ['method', 'outcome'],
        buckets: RPC_SECONDS_BUCKETS,
        registers: [options.registry],
      })
    : undefined;
  const methodLabel = boundedLabels({ max: MAX_METHOD_LABELS });
  const largeParse = createOneAtATime();
  // A body of one slice is parsed in one go, without waiting behind a large one; larger ones take turns.
  // Either way the event loop is never held for more than one slice's parsing (10 to 30 ms), and a breached
  // limit stops the parse where it is.
  const parse = (body: string, soapAction: string | undefined) => {
    const request = () => parseSoapRequestAsync(body, { limits: options.xmlLimits, ...(soapAction ? { soapAction } : {}) });
    return body.length <= XML_SLICE_LENGTH ? request() : largeParse(request);
  };
  const observe = (call: SoapCall | undefined, started: bigint, outcome: 'ok' | 'fault' | 'refused') => {
    if (!duration) return;
    const method = methodLabel(call ? `${call.urn}#${call.method}` : 'unparsed');
    duration.observe({ method, outcome }, Number(process.hrtime.bigint() - started) / 1e9);
  };

  router.post('/nl/jsp/soaprouter.jsp', soapBodyReader(options.maxBodyBytes), async (req: Request, res: Response) => {
    const body = typeof req.body === 'string' ? req.body : '';
    const soapAction = (req.get('SOAPAction') ?? (typeof req.query['soapAction'] === 'string' ? req.query['soapAction'] : undefined)) || undefined;
    let call: SoapCall | undefined;
    const started = process.hrtime.bigint();
    try {
      call = await parse(body, soapAction);
      const current = call;
      const result = await options.dispatcher.dispatch(
        call,
        { ip: req.ip ?? '', headers: req.headers },
        options.admit ? (caller, resolved) => options.admit!(current, caller, req, resolved) : undefined,
      );
      const outputs = result.method.params.filter((p) => p.inout !== 'in');
      const xml = buildSoapResponse({
        urn: call.urn,
        method: call.method,
        outputs: outputs.map((param, i) => ({ param, value: result.outputs[i] })),
        ...(result.entity ? { entity: result.entity } : {}),
      });
      sendXml(res, xml);
      observe(call, started, 'ok');
    } catch (err) {
      if (err instanceof HttpRefusal || err instanceof AuthLocked) {
        const refusal = err instanceof AuthLocked ? authLockedRefusal(err) : err;
        res.status(refusal.status).set(refusal.headers).type('text/plain').send(refusal.body);
        observe(call, started, 'refused');
        return;
      }
      sendFault(res, toFault(err, call, options.logger));
      observe(call, started, 'fault');
    }
  });

  // Body-parser failures (too large, bad charset) come here; everything else is a programmer error.
  router.use((err: unknown, _req: Request, res: Response, next: NextFunction) => {
    const e = err as { type?: string; status?: number };
    if (e.type === 'entity.too.large') {
      res.status(413).type('text/plain').send(`Request body larger than ${options.maxBodyBytes} bytes`);
    } else if (e.status && e.status >= 400 && e.status < 500) {
      sendFault(res, SOAP_FAULTS.malformed(e.type ?? 'unreadable body'));
    } else {
      next(err);
    }
  });
  return router;
}

/**
 * What a caller reads for a platform error (a CAP code): the kind of failure, never an internal RPC method, a
 * service's validator text or a deadline's inner workings. The full text is logged with the correlation id the
 * fault carries.
 */
const PUBLIC_PLATFORM_MESSAGES: Record<string, string> = {
  [ErrorCodes.RPC_TIMEOUT]: 'The platform did not answer in time; the call may or may not have been applied',
  [ErrorCodes.RPC_NO_HANDLER]: 'This call is not available on this platform',
  [ErrorCodes.RPC_HANDLER_FAILED]: 'The platform failed while handling the call',
  [ErrorCodes.SERVICE_UNAVAILABLE]: 'A platform service is unavailable; retry later',
  [ErrorCodes.SHUTTING_DOWN]: 'A platform service is restarting; retry',
  [ErrorCodes.INVALID_REQUEST]: 'Invalid parameters',
  [ErrorCodes.REQUEST_TOO_LARGE]: 'The parameters are too large',
};

/** Maps any error to the fault the caller sees; unexpected errors are logged and never leak internals. */
export function toFault(err: unknown, call: SoapCall | undefined, logger: Logger): SoapFault {
  if (err instanceof SoapFault) return err;
  const urn = call?.urn ?? 'unknown';
  const method = call?.method ?? 'unknown';
  const detail = `Error while executing the method '${method}' of service '${urn}'.`;
  if (isAppError(err)) {
    const text = err.message.startsWith(`${err.code} `) ? err.message.slice(err.code.length + 1) : err.message;
    const publicText = PUBLIC_PLATFORM_MESSAGES[err.code] ?? (err.code.startsWith('CAP-') ? 'The platform could not handle the call' : undefined);
    if (publicText === undefined) {
      // Campaign-coded refusals (UNKNOWN_FIELD…, DATABASE_REFUSED with its correlation id) are written for the caller.
      return new SoapFault(err.soapFaultCode, err.code, text, detail);
    }
    const correlationId = newCorrelationId();
    logger.warn({ event: 'soap.call.failed', urn, method, code: err.code, correlationId, err: text }, 'SOAP call failed on a platform error');
    return new SoapFault(err.soapFaultCode, err.code, `${publicText} (correlation id ${correlationId})`, detail);
  }
  logger.error({ event: 'soap.call.crashed', urn, method, err }, 'unexpected error in a SOAP call');
  return SOAP_FAULTS.methodFailed(urn, method);
}
