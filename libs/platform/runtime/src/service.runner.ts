import type { Logger } from '@cap/platform-logger';

export interface RunningService {
  /** Stop intake, drain in-flight work, close connections. Called once, on SIGTERM or SIGINT. */
  stop(): Promise<void>;
}

export interface ServiceState {
  /** False from the moment shutdown begins; readiness reports not-ready from then on. */
  isAccepting(): boolean;
}

export interface RunServiceOptions {
  name: string;
  logger: Logger;
  shutdownTimeoutMs: number;
  start(state: ServiceState): Promise<RunningService>;
  /** For tests: what ends the process. */
  exit?: (code: number) => void;
}

/**
 * The lifecycle every service process shares: start, then on SIGTERM/SIGINT stop accepting, drain and
 * exit 0; exit 1 if start fails, if draining outlives `shutdownTimeoutMs`, or on an uncaught error.
 */
export async function runService(options: RunServiceOptions): Promise<void> {
  const { logger } = options;
  const exit = options.exit ?? ((code: number) => process.exit(code));
  let accepting = true;
  let running: RunningService | undefined;
  let stopping = false;

  const shutdown = async (signal: string) => {
    if (stopping) {
      logger.warn({ event: 'service.shutdown.repeated', signal }, 'shutdown already in progress');
      return;
    }
    stopping = true;
    accepting = false;
    logger.info({ event: 'service.shutdown.started', signal }, `${options.name} stopping`);
    const timer = setTimeout(() => {
      logger.error({ event: 'service.shutdown.timeout', timeoutMs: options.shutdownTimeoutMs }, 'drain took too long; exiting');
      logger.flush();
      exit(1);
    }, options.shutdownTimeoutMs);
    timer.unref();
    try {
      await running?.stop();
      clearTimeout(timer);
      logger.info({ event: 'service.shutdown.completed' }, `${options.name} stopped`);
      logger.flush();
      exit(0);
    } catch (err) {
      clearTimeout(timer);
      logger.error({ event: 'service.shutdown.failed', err }, 'error while stopping');
      logger.flush();
      exit(1);
    }
  };

  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
  process.on('uncaughtException', (err) => {
    logger.fatal({ event: 'service.crashed', err }, 'uncaught exception');
    logger.flush();
    exit(1);
  });
  process.on('unhandledRejection', (err) => {
    logger.fatal({ event: 'service.crashed', err }, 'unhandled promise rejection');
    logger.flush();
    exit(1);
  });

  try {
    running = await options.start({ isAccepting: () => accepting });
    logger.info({ event: 'service.started' }, `${options.name} started`);
  } catch (err) {
    logger.fatal({ event: 'service.start.failed', err }, `${options.name} failed to start`);
    logger.flush();
    exit(1);
  }
}
