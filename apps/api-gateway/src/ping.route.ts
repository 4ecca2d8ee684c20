import { Router } from 'express';
import { SERVICES } from '@cap/contracts';
import type { Logger } from '@cap/platform-logger';
import type { Downstreams } from './downstream.client';

/** Campaign's timestamp format for plain-text endpoints: `2024-01-01 10:00:00.000Z`. */
export function campaignTimestamp(date: Date): string {
  return date.toISOString().replace('T', ' ');
}

/**
 * `GET /nl/jsp/ping.jsp`: `OK\n<timestamp>\n` when both databases answer through their services (local via
 * local-store, cloud via cloud-executor), as Campaign's ping checks its database. Otherwise 503 with
 * `Error\n<reason>` in plain text (never JSON: the SDK's HTTP client would try to parse it).
 */
export function createPingRouter(deps: { downstreams: Downstreams; logger: Logger }): Router {
  const router = Router();
  router.get('/nl/jsp/ping.jsp', async (_req, res) => {
    res.type('text/plain');
    const results = await Promise.allSettled([
      deps.downstreams.call(SERVICES.localStore, 'system.ping', {}),
      deps.downstreams.call(SERVICES.cloudExecutor, 'system.ping', {}),
    ]);
    const failures = results.flatMap((r) => (r.status === 'rejected' ? [r.reason instanceof Error ? r.reason.message : String(r.reason)] : []));
    if (failures.length > 0) {
      deps.logger.warn({ event: 'ping.failed', failures }, 'ping failed');
      res.status(503).send(`Error\n${failures.join('\n')}\n`);
      return;
    }
    res.send(`OK\n${campaignTimestamp(new Date())}\n`);
  });
  return router;
}
