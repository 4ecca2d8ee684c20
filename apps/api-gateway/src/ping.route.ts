import { Router } from 'express';
import { SERVICES } from '@cap/contracts';
import { escapeAttr } from '@cap/campaign-xml';
import type { Logger } from '@cap/platform-logger';
import type { Downstreams } from './downstream.client';
import { readQuarantineCounts } from './soap-methods/staging.soap-methods';

/** Campaign's timestamp format for plain-text endpoints: `2024-01-01 10:00:00.000Z`. */
export function campaignTimestamp(date: Date): string {
  return date.toISOString().replace('T', ' ');
}

/**
 * `GET /nl/jsp/ping.jsp`: `OK\n<timestamp>\n` when both databases answer through their services (local via
 * local-store, cloud via cloud-executor), as Campaign's ping checks its database. Otherwise 503 with
 * `Error\n<reason>` in plain text (never JSON: the SDK's HTTP client would try to parse it).
 */
export function createPingRouter(deps: {
  downstreams: Downstreams;
  logger: Logger;
  mcQueueMax: number;
  instanceName: string;
  version: string;
  buildNumber: string;
}): Router {
  const router = Router();
  // `client.test()`: no authentication, an XML root whose attributes the SDK returns (docs/campaign-api.md#plain-http-endpoints).
  router.get('/r/test', (req, res) => {
    const attrs = {
      status: 'OK',
      date: campaignTimestamp(new Date()),
      build: deps.buildNumber,
      sha1: 'cap',
      instance: deps.instanceName,
      sourceIP: req.ip ?? '',
      host: req.hostname,
      localHost: req.hostname,
      version: deps.version,
    };
    res.type('text/xml').send(
      `<redir ${Object.entries(attrs)
        .map(([k, v]) => `${k}="${escapeAttr(v)}"`)
        .join(' ')}/>`,
    );
  });
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
  // `client.mcPing()`: the real depth of the transactional event queue (pending rtEvent + batchEvent).
  router.get('/nl/jsp/mcPing.jsp', async (_req, res) => {
    res.type('text/plain');
    try {
      const [{ pending }, staging, quarantine] = await Promise.all([
        deps.downstreams.call<{ pending: number }>(SERVICES.localStore, 'event.queueDepth', {}),
        deps.downstreams.call<{ sources: { pending: number; oldestPendingSeconds: number }[] }>(SERVICES.localStore, 'staging.status', {}),
        readQuarantineCounts(deps.downstreams),
      ]);
      if (pending >= deps.mcQueueMax) {
        res.send(`Error\nThe queue is full (${pending}/${deps.mcQueueMax})\n`);
        return;
      }
      // A fourth line (the SDK reads the first three): the staging backlog waiting for the cloud DB.
      const staged = staging.sources.reduce((n, s) => n + s.pending, 0);
      const oldest = staging.sources.reduce((m, s) => Math.max(m, s.oldestPendingSeconds), 0);
      // A fifth: what the consumers set aside (quarantined, and held behind them), for `npm run quarantine`.
      const setAside = quarantine.filter((q) => q.state !== 'replaying').reduce((n, q) => n + q.count, 0);
      const events = quarantine.filter((q) => /message-center/.test(q.consumer)).reduce((n, q) => n + q.count, 0);
      res.send(
        `Ok\n${campaignTimestamp(new Date())}\n${pending}/${deps.mcQueueMax} pending events\n${staged} staged rows pending sync (oldest ${Math.round(oldest)} s)\n` +
          `${setAside} messages set aside in the quarantine (${events} of the message center)\n`,
      );
    } catch (err) {
      deps.logger.warn({ event: 'mcping.failed', err }, 'mcPing failed');
      res.status(503).send(`Error\n${err instanceof Error ? err.message : String(err)}\n`);
    }
  });
  return router;
}
