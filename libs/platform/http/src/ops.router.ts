import { Router, type Request, type Response } from 'express';
import type { Registry } from 'prom-client';

/** A named readiness check: resolves when the dependency answers, rejects (or times out) when not. */
export interface ReadinessCheck {
  name: string;
  check: () => Promise<unknown>;
}

export interface OpsRouterOptions {
  service: string;
  checks: ReadinessCheck[];
  registry: Registry;
  /** False once shutdown starts: /readyz turns 503 so load balancers stop sending traffic. */
  isAccepting: () => boolean;
  checkTimeoutMs?: number;
}

export type CheckResult = { status: 'ok' } | { status: 'failed'; error: string };

async function runCheck(check: ReadinessCheck, timeoutMs: number): Promise<CheckResult> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      check.check(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    return { status: 'ok' };
  } catch (err) {
    return { status: 'failed', error: err instanceof Error ? err.message : String(err) };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * `/healthz` (the process is alive and its event loop turns), `/readyz` (every real dependency answers,
 * and the service is not shutting down) and `/metrics` (Prometheus text format).
 */
export function createOpsRouter(options: OpsRouterOptions): Router {
  const router = Router();
  const timeoutMs = options.checkTimeoutMs ?? 2_000;

  router.get('/healthz', (_req: Request, res: Response) => {
    res.json({ status: 'ok', service: options.service, uptimeSeconds: Math.round(process.uptime()) });
  });

  router.get('/readyz', async (_req: Request, res: Response) => {
    const entries = await Promise.all(options.checks.map(async (c) => [c.name, await runCheck(c, timeoutMs)] as const));
    const checks = Object.fromEntries(entries);
    const accepting = options.isAccepting();
    const ready = accepting && entries.every(([, r]) => r.status === 'ok');
    res.status(ready ? 200 : 503).json({
      status: ready ? 'ready' : 'not-ready',
      service: options.service,
      ...(accepting ? {} : { reason: 'shutting down' }),
      checks,
    });
  });

  router.get('/metrics', async (_req: Request, res: Response) => {
    res.setHeader('Content-Type', options.registry.contentType);
    res.send(await options.registry.metrics());
  });

  return router;
}
