import { createTransport } from 'nodemailer';
import type { Registry } from 'prom-client';
import type { Logger } from '@cap/platform-logger';
import { createBreaker } from '@cap/platform-resilience';
import type { ChannelAdapter, ChannelBatch, FailureKind, OutboundMessage, SendOutcome } from './channel.adapter';

export interface SmtpChannelOptions {
  /** `smtp://[user:password@]host[:port]` or `smtps://…` (TLS from the first byte). */
  url: string;
  name?: string;
  /** Connections kept open to the server (messages of a batch are sent over them in parallel). */
  poolMax: number;
  /** Connection, greeting and socket timeout, and the breaker's timeout for one message. */
  timeoutMs: number;
  /** Accept a server certificate that does not verify (development servers). */
  allowInvalidCertificates?: boolean;
  logger: Logger;
  registry?: Registry;
  breaker?: { errorThresholdPercent?: number; volumeThreshold?: number; resetTimeoutMs?: number };
}

/** nodemailer's error fields that tell what the server (or the network) said. */
interface SmtpError {
  code?: string;
  responseCode?: number;
  response?: string;
  message?: string;
}

/**
 * Email over SMTP with nodemailer (pooled connections), each message behind an opossum breaker: while the
 * server is down or timing out the breaker opens and messages fail fast as temporary failures, so callers
 * retry later instead of waiting on every message. A 5xx answer for a recipient is a permanent failure of
 * that message (and does not count against the breaker); a 4xx answer, a connection problem or an open
 * breaker is temporary.
 */
export function createSmtpChannel(options: SmtpChannelOptions): ChannelAdapter {
  const url = new URL(options.url);
  if (url.protocol !== 'smtp:' && url.protocol !== 'smtps:') throw new Error(`SMTP channel: '${url.protocol}' is not smtp: or smtps:`);
  const secure = url.protocol === 'smtps:';
  const transport = createTransport({
    pool: true,
    host: url.hostname,
    port: url.port ? Number(url.port) : secure ? 465 : 25,
    secure,
    maxConnections: options.poolMax,
    connectionTimeout: options.timeoutMs,
    greetingTimeout: options.timeoutMs,
    socketTimeout: options.timeoutMs,
    ...(url.username ? { auth: { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) } } : {}),
    ...(options.allowInvalidCertificates ? { tls: { rejectUnauthorized: false } } : {}),
  });
  const name = options.name ?? 'smtp';
  const breaker = createBreaker((message: OutboundMessage) => transport.sendMail(toMail(message)), {
    name: `channel:${name}`,
    logger: options.logger,
    ...(options.registry ? { registry: options.registry } : {}),
    timeoutMs: options.timeoutMs + 1_000,
    errorThresholdPercentage: options.breaker?.errorThresholdPercent ?? 50,
    volumeThreshold: options.breaker?.volumeThreshold ?? 5,
    resetTimeoutMs: options.breaker?.resetTimeoutMs ?? 5_000,
    // The server answered "no" for this recipient: not a sign that the channel is unwell.
    isBusinessError: (err) => classifySmtpError(err).permanent,
  });

  const sendOne = async (message: OutboundMessage): Promise<SendOutcome> => {
    try {
      await breaker.fire(message);
      return { status: 'sent' };
    } catch (err) {
      const { permanent, kind } = classifySmtpError(err);
      const e = err as SmtpError;
      return { status: 'failed', permanent, kind, message: (e.response ?? e.message ?? String(err)).slice(0, 400) };
    }
  };

  return {
    name,
    async send(batch: ChannelBatch): Promise<SendOutcome[]> {
      const outcomes: SendOutcome[] = new Array(batch.messages.length);
      let next = 0;
      const worker = async () => {
        while (next < batch.messages.length) {
          const i = next++;
          outcomes[i] = await sendOne(batch.messages[i]!);
        }
      };
      await Promise.all(Array.from({ length: Math.min(options.poolMax, batch.messages.length) }, worker));
      return outcomes;
    },
    async check() {
      if (breaker.state === 'open') throw new Error(`SMTP channel ${name}: circuit breaker is open`);
    },
    async close() {
      breaker.shutdown();
      transport.close();
    },
  };
}

function toMail(message: OutboundMessage) {
  const headers: Record<string, string> = { 'X-Cap-Message-Id': message.id };
  for (const [key, value] of Object.entries(message.meta ?? {})) {
    if (/^[A-Za-z0-9-]{1,40}$/.test(key)) headers[`X-Cap-${key}`] = value.replace(/[\r\n]/g, ' ').slice(0, 200);
  }
  return { from: message.from, to: message.to, subject: message.subject, html: message.body, headers };
}

/** What an SMTP failure means for the message: permanent (5xx for it) or temporary (4xx, network, breaker). */
export function classifySmtpError(err: unknown): { permanent: boolean; kind: FailureKind } {
  const e = (err ?? {}) as SmtpError;
  const code = e.responseCode;
  if (typeof code === 'number' && code >= 500) {
    const text = `${e.response ?? ''} ${e.message ?? ''}`;
    if (code === 550 || code === 551 || code === 553) {
      return { permanent: true, kind: /user unknown|no such user|unknown user|does not exist|mailbox unavailable/i.test(text) ? 'unknownUser' : 'refused' };
    }
    return { permanent: true, kind: 'refused' };
  }
  if (typeof code === 'number' && code >= 400) return { permanent: false, kind: 'refused' };
  if (e.code === 'EENVELOPE') return { permanent: true, kind: 'invalidAddress' };
  return { permanent: false, kind: 'unreachable' };
}
