import type { Request, Response } from 'express';
import { SoapFault } from '@cap/campaign-soap';
import { appError, ErrorCatalogue, isAppError, type AppError } from '@cap/platform-errors';
import type { Logger } from '@cap/platform-logger';
import { AuthLocked } from '../session/auth.throttle';
import type { Authenticator } from '../session/authenticator';
import type { Operator } from '../session/session.model';

/** The authenticator resolves SOAP calls; these pages are none, so their tokens come from the HTTP headers only. */
const NO_SOAP_CALL = { urn: 'xtk:session', schemaId: 'xtk:session', method: 'httpPage', params: [], header: {} };

/**
 * A Campaign-style refusal on a plain-HTTP page: the code first, then the text (`<code> No file …`), as
 * text/plain with the entry's HTTP status (and as the reason phrase); an AppError of any other status (a SOAP fault code such as
 * SESSION_INVALID) is answered with `status`.
 */
export function sendHttpError(res: Response, err: AppError, status = err.httpStatus): void {
  if (res.headersSent) return;
  const text = err.message.startsWith(`${err.code} `) ? err.message : `${err.code} ${err.message}`;
  // The reason phrase carries the code and text too: the SDK reports it where it drops the body (uploadAemAsset).
  res.statusMessage = text.replace(/[^\x20-\x7e]/g, '?').slice(0, 200);
  res
    .status(status >= 400 ? status : 400)
    .set('Cache-Control', 'no-store')
    .type('text/plain')
    .send(`${text}\n`);
}

export type HttpCaller = { operator: Operator } | { refused: true };

/**
 * The operator calling a plain-HTTP page: a session token (X-Session-Token or the __sessiontoken cookie, with
 * X-Security-Token) or a bearer token, as the SDK sends them (`_getAuthHeaders`). Answers the refusal itself
 * (401 FILE_AUTH_REQUIRED without credentials, 401 SESSION_INVALID for a session that is not valid, 429 when locked, 503 when
 * the operator cannot be identified now) and returns `refused`.
 */
export async function identifyHttpOperator(deps: { authenticator: Authenticator; logger: Logger }, req: Request, res: Response): Promise<HttpCaller> {
  const hasCredentials = Boolean(req.get('x-session-token') || req.get('authorization') || /(?:^|;\s*)__sessiontoken=[^;]/.test(req.get('cookie') ?? ''));
  if (!hasCredentials) {
    sendHttpError(
      res,
      appError(ErrorCatalogue.FILE_AUTH_REQUIRED, { how: 'send a session token (X-Session-Token or the __sessiontoken cookie) or a bearer token' }),
    );
    return { refused: true };
  }
  try {
    const caller = await deps.authenticator.authenticate(NO_SOAP_CALL, '', { ip: req.ip ?? '', headers: req.headers });
    if (caller.kind === 'operator') return { operator: caller.operator };
    sendHttpError(res, appError(ErrorCatalogue.FILE_AUTH_REQUIRED, { how: 'the credentials sent name no operator' }));
  } catch (err) {
    if (err instanceof AuthLocked) {
      res.set('Retry-After', String(err.retryAfterSeconds)).status(429).type('text/plain').send(`${err.message}\n`);
    } else if ((isAppError(err) || err instanceof SoapFault) && err.code.startsWith('XSV-')) {
      // The SDK reads SESSION_INVALID's code in a 401 as "session expired" and logs on again.
      const text = err instanceof SoapFault ? err.faultstring : err.message.startsWith(`${err.code} `) ? err.message : `${err.code} ${err.message}`;
      res.status(401).set('Cache-Control', 'no-store').type('text/plain').send(`${text}\n`);
    } else {
      deps.logger.warn({ event: 'http.auth.failed', err }, 'operator of an HTTP page could not be identified');
      res.status(503).type('text/plain').send('The operator could not be identified now; retry later\n');
    }
  }
  return { refused: true };
}

/** A refusal `identifyHttpOperator` already answered. */
export const isRefused = (c: HttpCaller): c is { refused: true } => 'refused' in c;

/** What an unexpected downstream failure is, for the log (never sent as is). */
export const describeFailure = (err: unknown): string => (isAppError(err) ? err.code : err instanceof Error ? err.message : String(err));
