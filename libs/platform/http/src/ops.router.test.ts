import express from 'express';
import { Registry } from 'prom-client';
import { createOpsRouter, startHttpServer, type StartedServer } from './index';

describe('ops router', () => {
  let server: StartedServer;
  let accepting = true;
  let dbUp = true;

  beforeAll(async () => {
    const registry = new Registry();
    const app = express();
    app.use(
      createOpsRouter({
        service: 'svc',
        registry,
        isAccepting: () => accepting,
        checkTimeoutMs: 100,
        checks: [
          { name: 'postgres', check: async () => (dbUp ? undefined : Promise.reject(new Error('connection refused'))) },
          { name: 'kafka', check: async () => undefined },
        ],
      }),
    );
    server = await startHttpServer(app, { host: '127.0.0.1', port: 0 });
  });

  afterAll(() => server.close(100));

  it('when every check passes, then /readyz is 200 ready with each check ok', async () => {
    const res = await fetch(`${server.url}/readyz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ready', service: 'svc', checks: { postgres: { status: 'ok' }, kafka: { status: 'ok' } } });
  });

  it('when one dependency fails, then /readyz is 503 naming it and its error, while /healthz stays 200', async () => {
    dbUp = false;
    try {
      const res = await fetch(`${server.url}/readyz`);
      expect(res.status).toBe(503);
      expect(await res.json()).toMatchObject({
        status: 'not-ready',
        checks: { postgres: { status: 'failed', error: 'connection refused' }, kafka: { status: 'ok' } },
      });
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    } finally {
      dbUp = true;
    }
  });

  it('when the service is shutting down, then /readyz is 503 with the reason even though dependencies answer', async () => {
    accepting = false;
    try {
      const res = await fetch(`${server.url}/readyz`);
      expect(res.status).toBe(503);
      expect(await res.json()).toMatchObject({ status: 'not-ready', reason: 'shutting down' });
    } finally {
      accepting = true;
    }
  });
});

describe('ops router check timeout', () => {
  it('when a check hangs, then /readyz answers 503 within the check timeout', async () => {
    const app = express();
    app.use(
      createOpsRouter({
        service: 'svc',
        registry: new Registry(),
        isAccepting: () => true,
        checkTimeoutMs: 100,
        checks: [{ name: 'redis', check: () => new Promise(() => undefined) }],
      }),
    );
    const server = await startHttpServer(app, { host: '127.0.0.1', port: 0 });
    try {
      const started = Date.now();
      const res = await fetch(`${server.url}/readyz`);
      expect(res.status).toBe(503);
      expect(await res.json()).toMatchObject({ checks: { redis: { status: 'failed', error: 'no answer within 100 ms' } } });
      expect(Date.now() - started).toBeLessThan(2_000);
    } finally {
      await server.close(100);
    }
  });
});
