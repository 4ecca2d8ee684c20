import type { Registry } from 'prom-client';
import { createFileChannel, createSmtpChannel, type ChannelAdapter } from '@cap/platform-channel';
import type { Logger } from '@cap/platform-logger';

export interface ChannelConfig {
  CHANNEL_DEFAULT: string;
  CHANNEL_FILE_DIR: string;
  SMTP_URL: string;
  SMTP_POOL_MAX: number;
  SMTP_TIMEOUT_MS: number;
  SMTP_BREAKER_RESET_MS: number;
  SMTP_ALLOW_INVALID_CERTIFICATES: boolean;
  /** Share of failed messages (in the breaker's 10 s window) that opens the smtp channel's breaker (default 50) … */
  SMTP_BREAKER_ERROR_PERCENT?: number;
  /** … once at least this many messages were sent in the window (default 5). */
  SMTP_BREAKER_VOLUME_THRESHOLD?: number;
}

/** The channel adapters of this deployment, by routing name: `file` always, `smtp` when SMTP_URL is set. */
export interface ChannelRegistry {
  /** The adapter for a delivery's routing (empty: the default); undefined when not configured. */
  find(routing: string): ChannelAdapter | undefined;
  names(): string[];
  close(): Promise<void>;
}

export function createChannelRegistry(config: ChannelConfig, deps: { logger: Logger; registry: Registry }): ChannelRegistry {
  const channels = new Map<string, ChannelAdapter>();
  channels.set('file', createFileChannel({ dir: config.CHANNEL_FILE_DIR }));
  if (config.SMTP_URL) {
    channels.set(
      'smtp',
      createSmtpChannel({
        url: config.SMTP_URL,
        poolMax: config.SMTP_POOL_MAX,
        timeoutMs: config.SMTP_TIMEOUT_MS,
        allowInvalidCertificates: config.SMTP_ALLOW_INVALID_CERTIFICATES,
        logger: deps.logger,
        registry: deps.registry,
        breaker: {
          resetTimeoutMs: config.SMTP_BREAKER_RESET_MS,
          ...(config.SMTP_BREAKER_ERROR_PERCENT !== undefined ? { errorThresholdPercent: config.SMTP_BREAKER_ERROR_PERCENT } : {}),
          ...(config.SMTP_BREAKER_VOLUME_THRESHOLD !== undefined ? { volumeThreshold: config.SMTP_BREAKER_VOLUME_THRESHOLD } : {}),
        },
      }),
    );
  }
  if (!channels.has(config.CHANNEL_DEFAULT))
    throw new Error(
      `CHANNEL_DEFAULT is '${config.CHANNEL_DEFAULT}' but that channel is not configured (${[...channels.keys()].join(', ')}; smtp needs SMTP_URL)`,
    );
  return {
    find: (routing) => channels.get(routing.trim() || config.CHANNEL_DEFAULT),
    names: () => [...channels.keys()],
    async close() {
      for (const c of channels.values()) await c.close();
    },
  };
}
