import { AppError } from './app-error';

/**
 * THE catalogue of error codes: every code any service raises is defined here, once, with its SOAP fault class,
 * the HTTP status it carries, whether repeating the call can help, and its message template. Nothing else spells
 * a code (a unit test, libs/platform/errors/test/error-catalogue.test.ts, holds every src/ folder to it, and holds
 * docs/errors.md to listing every code). Domain code raises an error by its entry (`appError(ErrorCatalogue.X,
 * …)`, or a domain error class built on the entry); each transport turns it into its wire form in one place.
 *
 * - Campaign-facing codes (XSV, XTK, SOP, DLV, WKF, PGS) are SOAP faults answered on HTTP 200: their status is 200.
 * - Platform codes (CAP) are transport and dependency conditions; their status is the one an HTTP answer uses.
 * - DDL codes stop a deployment: never sent to a client.
 *
 * A template names its values in braces (`{method}`). Codes raised with wordings that differ from site to site
 * take the whole text as `{detail}`.
 */
export type SoapFaultClass = 'SOAP-ENV:Client' | 'SOAP-ENV:Server';

export interface CatalogueEntry<Code extends string = string, Template extends string = string> {
  /** Three letters, six digits: the first word of a fault string, which the SDK reads into `errorCode`. */
  readonly code: Code;
  /** `SOAP-ENV:Client` when the caller must change the request, `SOAP-ENV:Server` when the platform failed. */
  readonly fault: SoapFaultClass;
  readonly httpStatus: number;
  /** True when the same call may succeed later (a dependency was down), false when it gives the same answer. */
  readonly retriable: boolean;
  readonly template: Template;
}

const entry = <const Code extends string, const Template extends string>(
  code: Code,
  fault: 'Client' | 'Server',
  httpStatus: number,
  retriable: boolean,
  template: Template,
): CatalogueEntry<Code, Template> => ({ code, fault: `SOAP-ENV:${fault}`, httpStatus, retriable, template });

/** A SOAP fault a client can see (Campaign's codes): HTTP 200, never retried. */
const fault = <const Code extends string, const Template extends string>(code: Code, faultClass: 'Client' | 'Server', template: Template) =>
  entry(code, faultClass, 200, false, template);

export const ErrorCatalogue = {
  // Platform (transport, dependencies, input).
  RPC_TIMEOUT: entry('CAP-100001', 'Server', 504, true, '{detail}'),
  RPC_NO_HANDLER: entry('CAP-100002', 'Server', 501, false, "Service {service} has no handler for '{method}'"),
  RPC_HANDLER_FAILED: entry('CAP-100003', 'Server', 500, true, "Service {service} failed while handling '{method}'"),
  SERVICE_UNAVAILABLE: entry('CAP-100101', 'Server', 503, true, 'Service {service} is unavailable: {reason}'),
  SHUTTING_DOWN: entry('CAP-100102', 'Server', 503, true, 'Service {service} is shutting down'),
  INVALID_MESSAGE: entry('CAP-100201', 'Client', 400, false, 'Invalid message on {topic}: {reason}'),
  INVALID_REQUEST: entry('CAP-100301', 'Client', 400, false, 'Invalid {what}: {reason}'),
  REQUEST_TOO_LARGE: entry('CAP-100302', 'Client', 413, false, "Request '{method}' to {service} is too large to forward: {reason}"),
  /** Reserved: no service raises it (a bad configuration stops a service at start with the list of its problems). */
  CONFIG_INVALID: entry('CAP-100401', 'Server', 500, false, 'Invalid configuration for {service}: {reason}'),
  MIGRATION_FAILED: entry('CAP-100501', 'Server', 500, false, 'Migration {migration} on {database} failed: {reason}'),
  /** Reserved: no service raises it (an unexpected failure is answered with RPC_HANDLER_FAILED or SOAP_METHOD_FAILED). */
  INTERNAL: entry('CAP-100901', 'Server', 500, false, '{detail}'),

  // SOAP and routing.
  SOAP_MALFORMED: fault('SOP-330001', 'Client', 'Malformed {what}: {why}'),
  SOAP_UNKNOWN_METHOD: fault('SOP-330006', 'Client', "Method '{method}' of service '{urn}' is not defined."),
  SOAP_BAD_PARAMETER: fault('SOP-330008', 'Client', "Invalid parameter '{param}' of method '{method}': {why}"),
  SOAP_METHOD_FAILED: fault('SOP-330011', 'Server', "Error while executing the method '{method}' of service '{urn}'."),

  // Authentication and authorisation.
  LOGON_REFUSED: fault('XSV-350001', 'Client', 'Invalid login or password.'),
  SESSION_INVALID: fault('XSV-350008', 'Client', 'Session has expired or is invalid. Please reconnect.'),
  ACCESS_DENIED: fault('XSV-350013', 'Client', 'Access denied: {who} may not {what}.'),
  /** Our number: a value to decrypt (ReEncryptPassword) that is not a token of this instance's keys. */
  SECRET_UNREADABLE: fault('XSV-350030', 'Client', 'The encrypted value cannot be decrypted: {why}.'),
  /** Our number: bearer tokens of the OpenID Connect issuer cannot be checked (its key set unreachable, slow, oversized or unreadable). */
  IDP_KEYS_UNAVAILABLE: entry('XSV-350200', 'Server', 200, true, "The identity provider's signing keys cannot be read: {why}."),

  // Queries.
  QUERY_INVALID: fault('XTK-170036', 'Client', '{detail}'),
  /** Our choice of code: Campaign faults here, with a code we could not verify. */
  NO_RECORD: fault('XSV-350122', 'Server', "No record found for query on '{schema}'"),

  // Writes (Write, WriteCollection, Ingest, IngestExt, DeleteCollection, subscriptions, events).
  MISSING_SCHEMA: fault('XTK-170100', 'Client', '{detail}'),
  UNKNOWN_SCHEMA: fault('XTK-170101', 'Client', '{detail}'),
  UNKNOWN_FIELD: fault('XTK-170102', 'Client', '{detail}'),
  BAD_VALUE: fault('XTK-170103', 'Client', '{detail}'),
  NO_KEY: fault('XTK-170104', 'Client', '{detail}'),
  BAD_OPERATION: fault('XTK-170105', 'Client', '{detail}'),
  NOT_STAGED: fault('XTK-170106', 'Client', '{detail}'),
  NOT_WRITABLE: fault('XTK-170107', 'Client', '{detail}'),
  LINK_NOT_FOUND: fault('XTK-170108', 'Client', '{detail}'),
  VALUE_TOO_LONG: fault('XTK-170109', 'Client', '{detail}'),
  /** The database refused a statement for its data (SQLSTATE 22, 23, 42): what kind of refusal, never its text. */
  DATABASE_REFUSED: fault('PGS-220000', 'Server', '{detail}'),

  // Deliveries (our numbers: Campaign's own DLV codes for these conditions are not documented).
  DELIVERY_UNKNOWN_TEMPLATE: fault('DLV-490001', 'Client', '{detail}'),
  DELIVERY_BAD_FRAGMENT: fault('DLV-490002', 'Client', '{detail}'),
  DELIVERY_BAD_TARGET: fault('DLV-490003', 'Client', '{detail}'),
  DELIVERY_BAD_PERSONALISATION: fault('DLV-490004', 'Client', '{detail}'),
  DELIVERY_UNKNOWN_CHANNEL: fault('DLV-490005', 'Client', '{detail}'),
  DELIVERY_NOTHING_TO_SEND: fault('DLV-490006', 'Client', '{detail}'),
  DELIVERY_UNKNOWN: fault('DLV-490010', 'Client', 'No delivery action has the id {deliveryId}.'),
  DELIVERY_COMMAND_REFUSED: fault('DLV-490011', 'Client', "The delivery {deliveryId} cannot take the command '{command}': {reason}."),
  JOB_UNKNOWN: fault('XTK-170350', 'Client', "No job '{jobId}' of this operator."),
  JOB_METHOD_UNSUPPORTED: fault('XTK-170351', 'Client', "The method '{method}' of '{schema}' cannot run as a job: {reason}."),
  JOB_NO_RESULT: fault('XTK-170352', 'Client', "The job '{jobId}' has no result yet: {reason}."),

  // Schema DDL: refusals of a deployment, one line per problem; never sent to a client.
  DDL_DESTRUCTIVE_CHANGE: entry('DDL-000001', 'Server', 500, false, '{detail}'),
  DDL_INVALID_SCHEMA: entry('DDL-000002', 'Server', 500, false, '{detail}'),

  // Workflows (our numbers: Campaign's own WKF codes for these conditions are not documented).
  WORKFLOW_UNKNOWN: fault('WKF-560001', 'Client', "The workflow '{workflow}' does not exist (give its internal name or its numeric id)."),
  WORKFLOW_DEFINITION_MALFORMED: fault('WKF-560010', 'Client', "The workflow '{workflow}' cannot be started: {problems}."),
  WORKFLOW_UNKNOWN_ACTIVITY_TYPE: fault('WKF-560011', 'Client', "The workflow '{workflow}' cannot be started: {problems}."),
  WORKFLOW_DANGLING_TRANSITION: fault('WKF-560012', 'Client', "The workflow '{workflow}' cannot be started: {problems}."),
  WORKFLOW_NO_PATH: fault('WKF-560013', 'Client', "The workflow '{workflow}' cannot be started: {problems}."),
  WORKFLOW_INVALID_ACTIVITY: fault('WKF-560014', 'Client', "The workflow '{workflow}' cannot be started: {problems}."),
  WORKFLOW_DELIVERY_TEMPLATE: fault('WKF-560015', 'Client', "The workflow '{workflow}' cannot be started: {problems}."),
  WORKFLOW_NOT_STARTED: fault('WKF-560020', 'Client', "The workflow '{workflow}' is not started (it is {state})."),
  WORKFLOW_NOT_WAITING: fault('WKF-560021', 'Client', "Activity '{activity}' of the workflow '{workflow}' is not waiting for a signal: {why}."),
  WORKFLOW_UNKNOWN_TRANSITION: fault(
    'WKF-560022',
    'Client',
    "Activity '{activity}' of the workflow '{workflow}' has no transition named '{transition}' ({transitions}).",
  ),
  WORKFLOW_ALREADY_STARTED: fault('WKF-560023', 'Client', "The workflow '{workflow}' is already started; stop it before starting a new run."),
  // Why an activity failed: the start of the workflow's @status and log line, not SOAP faults.
  WORKFLOW_SCRIPT_ERROR: fault('WKF-560030', 'Server', '{detail}'),
  WORKFLOW_SCRIPT_CPU_LIMIT: fault('WKF-560031', 'Server', '{detail}'),
  WORKFLOW_SCRIPT_MEMORY_LIMIT: fault('WKF-560032', 'Server', '{detail}'),
  WORKFLOW_SCRIPT_TIME_LIMIT: fault('WKF-560033', 'Server', '{detail}'),
  WORKFLOW_SCRIPT_LOG_ERROR: fault('WKF-560034', 'Server', '{detail}'),
  WORKFLOW_SCRIPT_STOPPED: fault('WKF-560035', 'Server', '{detail}'),
  WORKFLOW_SANDBOX_FAILED: fault('WKF-560036', 'Server', '{detail}'),
  WORKFLOW_VARIABLES_LIMIT: fault('WKF-560037', 'Server', '{detail}'),
  WORKFLOW_SCRIPT_MALFORMED: fault('WKF-560038', 'Server', '{detail}'),
  WORKFLOW_QUERY_FAILED: fault('WKF-560040', 'Server', '{detail}'),
  WORKFLOW_UPDATE_FAILED: fault('WKF-560041', 'Server', '{detail}'),
  WORKFLOW_DELIVERY_FAILED: fault('WKF-560042', 'Server', '{detail}'),

  // Packages: xtk:builder#InstallPackage, xtk:specFile#GenerateDoc (our numbers: Campaign's own codes are not documented).
  PACKAGE_MALFORMED: fault('XTK-170300', 'Client', '{detail}'),
  PACKAGE_TOO_LARGE: fault('XTK-170301', 'Client', '{detail}'),
  PACKAGE_SOURCE_SCHEMA: fault('XTK-170302', 'Client', '{detail}'),
  PACKAGE_SPANS_DATABASES: fault('XTK-170303', 'Client', '{detail}'),
  // Files, report data and AEM assets over plain HTTP (/nl/jsp/uploadFile.jsp, downloadFile.jsp, /report/…,
  // /nms/aemAssetDownload.jssp; our numbers). Their status is the HTTP answer's; inside a SOAP method
  // (xtk:fileRes#PublishIfNeeded, GetURL) they are faults like any other.
  FILE_TOO_LARGE: entry('XTK-170400', 'Client', 413, false, 'The file is larger than {limit} bytes (FILE_MAX_BYTES); nothing was stored.'),
  FILE_NAME_REFUSED: entry('XTK-170401', 'Client', 400, false, "The file name '{name}' is refused: {why}."),
  FILE_UPLOAD_MALFORMED: entry('XTK-170402', 'Client', 400, false, 'Malformed upload: {why}.'),
  FILE_TYPE_MISMATCH: entry('XTK-170403', 'Client', 415, false, "The file content is {sniffed}, not the declared '{declared}'; nothing was stored."),
  FILE_CONTENT_REFUSED: entry('XTK-170404', 'Client', 415, false, 'The file content is refused: {why}; nothing was stored.'),
  FILE_NOT_FOUND: entry('XTK-170405', 'Client', 404, false, "No file '{file}' that this operator may read."),
  FILE_AUTH_REQUIRED: entry('XTK-170406', 'Client', 401, false, 'Log on first: {how}.'),
  FILE_RES_UNKNOWN: entry('XTK-170407', 'Client', 200, false, "The file resource '{name}' does not exist: write it (xtk:fileRes) first."),
  FILE_RES_NOT_PUBLISHED: entry('XTK-170408', 'Client', 200, false, "The file resource '{name}' is not published: {why}."),
  FILE_TRANSFERS_BUSY: entry('XTK-170409', 'Server', 503, true, 'Too many file transfers in progress on this gateway; retry in a moment.'),
  REPORT_UNKNOWN: entry('XTK-170420', 'Client', 404, false, "The report '{report}' does not exist (reports here: {reports})."),
  REPORT_BAD_CONTEXT: entry('XTK-170421', 'Client', 400, false, "Invalid report call '{report}': {why}."),
  REPORT_UNAVAILABLE: entry('XTK-170422', 'Server', 503, true, "The report '{report}' is not available now: {why}."),
  AEM_NOT_AVAILABLE: entry(
    'XTK-170430',
    'Client',
    501,
    false,
    'AEM asset upload is not available: this platform has no AEM connection; upload the file with uploadFile.jsp instead.',
  ),

  // Schema authoring at run time (xtk:session#Write of an xtk:srcSchema; our numbers).
  SCHEMA_SOURCE_INVALID: fault('XTK-170250', 'Client', 'The source schema cannot be compiled: {detail}'),
  SCHEMA_SOURCE_CLASH: fault('XTK-170251', 'Client', "The source schema '{id}' is defined by the platform's schema files and cannot be replaced at run time."),
  SCHEMA_SOURCE_TOO_LARGE: fault('XTK-170252', 'Client', 'The source schema is too large: {detail}'),
  SCHEMA_SOURCE_UNSUPPORTED: fault('XTK-170253', 'Client', 'The source schema cannot be authored at run time: {detail}'),
  // Standard schemas: external-account passwords (docs/standard-schemas.md).
  EXT_ACCOUNT_PASSWORD_NOT_TOKEN: fault('XTK-170200', 'Client', '{detail}'),
  EXT_ACCOUNT_PASSWORD_TOO_LONG: fault('XTK-170201', 'Client', '{detail}'),
} as const;

export type ErrorName = keyof typeof ErrorCatalogue;

/** Every code by its name, for comparisons (`err.code === ErrorCodes.RPC_TIMEOUT`). */
export const ErrorCodes = Object.fromEntries(Object.entries(ErrorCatalogue).map(([name, e]) => [name, e.code])) as {
  readonly [N in ErrorName]: (typeof ErrorCatalogue)[N]['code'];
};

export type ErrorCode = (typeof ErrorCodes)[ErrorName];

/** The names a template leaves to fill (`'{a} and {b}'` → `'a' | 'b'`). */
type Placeholders<T extends string> = T extends `${string}{${infer Name}}${infer Rest}` ? Name | Placeholders<Rest> : never;

/** The values an entry's template takes. */
export type MessageParams<E extends CatalogueEntry> = { readonly [N in Placeholders<E['template']>]: string | number };

/** The entry's template with its values in place (the text after the code, as the caller reads it). */
export function renderMessage<E extends CatalogueEntry>(e: E, params: MessageParams<E>): string {
  const values = params as Record<string, string | number>;
  return e.template.replace(/\{(\w+)\}/g, (_, name: string) => String(values[name]));
}

export interface AppErrorOptions {
  details?: Record<string, unknown>;
  cause?: unknown;
  /** What only the operator may read: logged by the service that raised it, never serialised into a reply. */
  privateDetail?: string;
}

/** The AppError of an entry, with its message rendered from the template. */
export function appError<E extends CatalogueEntry>(e: E, params: MessageParams<E>, options: AppErrorOptions = {}): AppError {
  return appErrorWithText(e, renderMessage(e, params), options);
}

/** The AppError of an entry whose text a domain error already rendered (from the same entry). */
export function appErrorWithText(e: CatalogueEntry, text: string, options: AppErrorOptions = {}): AppError {
  return new AppError(
    {
      code: e.code,
      message: text,
      retriable: e.retriable,
      httpStatus: e.httpStatus,
      soapFaultCode: e.fault,
      ...(options.details ? { details: options.details } : {}),
    },
    options.cause === undefined && options.privateDetail === undefined
      ? undefined
      : {
          ...(options.cause !== undefined ? { cause: options.cause } : {}),
          ...(options.privateDetail !== undefined ? { privateDetail: options.privateDetail } : {}),
        },
  );
}

/** A domain error class raised by its catalogue entry (WriteError, QueryError, DeliveryError…). */
export interface CataloguedError {
  readonly entry: CatalogueEntry;
  readonly message: string;
  readonly privateDetail?: string;
}

/**
 * The AppError a domain error crosses a process boundary as: its entry's code, fault class, status and retry
 * verdict, and its text — the message without the code in front, unless the caller words it (`text`).
 */
export function appErrorOf(err: CataloguedError, text?: string): AppError {
  const own = err.message.startsWith(`${err.entry.code} `) ? err.message.slice(err.entry.code.length + 1) : err.message;
  return appErrorWithText(err.entry, text ?? own, err.privateDetail === undefined ? {} : { privateDetail: err.privateDetail });
}

/** The platform's errors, by condition. */
export const errors = {
  rpcTimeout(service: string, method: string, timeoutMs: number): AppError {
    return appError(
      ErrorCatalogue.RPC_TIMEOUT,
      { detail: `No reply from ${service} to '${method}' within ${timeoutMs} ms` },
      { details: { service, method, timeoutMs } },
    );
  },
  rpcNoHandler(service: string, method: string): AppError {
    return appError(ErrorCatalogue.RPC_NO_HANDLER, { service, method }, { details: { service, method } });
  },
  rpcHandlerFailed(service: string, method: string): AppError {
    return appError(ErrorCatalogue.RPC_HANDLER_FAILED, { service, method }, { details: { service, method } });
  },
  serviceUnavailable(service: string, reason: string): AppError {
    return appError(ErrorCatalogue.SERVICE_UNAVAILABLE, { service, reason }, { details: { service } });
  },
  shuttingDown(service: string): AppError {
    return appError(ErrorCatalogue.SHUTTING_DOWN, { service });
  },
  invalidMessage(topic: string, reason: string): AppError {
    return appError(ErrorCatalogue.INVALID_MESSAGE, { topic, reason }, { details: { topic } });
  },
  invalidRequest(what: string, reason: string): AppError {
    return appError(ErrorCatalogue.INVALID_REQUEST, { what, reason });
  },
  requestTooLarge(service: string, method: string, reason: string): AppError {
    return appError(ErrorCatalogue.REQUEST_TOO_LARGE, { service, method, reason }, { details: { service, method } });
  },
  migrationFailed(database: string, migration: string, reason: string): AppError {
    return appError(ErrorCatalogue.MIGRATION_FAILED, { database, migration, reason }, { details: { database, migration } });
  },
};
