import { hostname } from 'node:os';
import pino, { type DestinationStream, type Logger } from 'pino';
import { findCorrelationId } from './correlation.context';

export type { Logger } from 'pino';

export interface LoggerOptions {
  service: string;
  level: string;
  instanceId?: string;
  /** Where lines go; stdout by default. Tests pass a stream to read them back. */
  destination?: DestinationStream;
}

/** Paths never written to logs, whatever module logs them. */
const REDACT_PATHS = [
  'password',
  '*.password',
  'sessionToken',
  '*.sessionToken',
  'securityToken',
  '*.securityToken',
  'authorization',
  '*.authorization',
  'headers.cookie',
  '*.headers.cookie',
  'headers.authorization',
  '*.headers.authorization',
  'headers["x-security-token"]',
  'headers["x-session-token"]',
];

/** One root logger per process: JSON lines with service, instance and the current correlation id. */
export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      level: options.level,
      base: { service: options.service, instance: options.instanceId ?? `${hostname()}-${process.pid}` },
      timestamp: pino.stdTimeFunctions.isoTime,
      messageKey: 'msg',
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      mixin() {
        const correlationId = findCorrelationId();
        return correlationId === undefined ? {} : { correlationId };
      },
    },
    options.destination ?? pino.destination({ fd: 1, sync: false }),
  );
}
