import { Writable } from 'node:stream';
import { Registry } from 'prom-client';
import { AppError, ErrorCodes, errors } from '@cap/platform-errors';
import { createLogger } from '@cap/platform-logger';
import { createBreaker } from './circuit.breaker';

const logger = createLogger({ service: 'test', level: 'silent', destination: new Writable({ write: (_c, _e, cb) => cb() }) });

describe('createBreaker', () => {
  it('when failures pass the threshold after the volume threshold, then the breaker opens and fails fast with SERVICE_UNAVAILABLE', async () => {
    let calls = 0;
    const registry = new Registry();
    const breaker = createBreaker(
      async () => {
        calls++;
        throw errors.serviceUnavailable('db', 'down');
      },
      { name: 'db', logger, registry, timeoutMs: 1_000, volumeThreshold: 4, errorThresholdPercentage: 50, resetTimeoutMs: 60_000 },
    );
    for (let i = 0; i < 4; i++) await expect(breaker.fire()).rejects.toMatchObject({ code: ErrorCodes.SERVICE_UNAVAILABLE });
    expect(breaker.state).toBe('open');
    const err = await breaker.fire().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: ErrorCodes.SERVICE_UNAVAILABLE, message: expect.stringContaining('circuit breaker is open') });
    expect(calls).toBe(4); // the fifth call never reached the dependency
    expect(await registry.getSingleMetricAsString('cap_breaker_state')).toContain('cap_breaker_state{breaker="db"} 2');
    breaker.shutdown();
  });

  it('when fewer calls than the volume threshold fail, then the breaker stays closed', async () => {
    const breaker = createBreaker(async () => Promise.reject(new Error('x')), { name: 'small', logger, timeoutMs: 1_000, volumeThreshold: 10 });
    for (let i = 0; i < 5; i++) await breaker.fire().catch(() => undefined);
    expect(breaker.state).toBe('closed');
    breaker.shutdown();
  });

  it('when the calls fail with business errors, then they pass through unchanged and never open the breaker', async () => {
    const business = new AppError({ code: 'XSV-350001', message: 'Invalid login', retriable: false, httpStatus: 200, soapFaultCode: 'SOAP-ENV:Client' });
    const breaker = createBreaker(async () => Promise.reject(business), { name: 'auth', logger, timeoutMs: 1_000, volumeThreshold: 2 });
    for (let i = 0; i < 10; i++) await expect(breaker.fire()).rejects.toBe(business);
    expect(breaker.state).toBe('closed');
    breaker.shutdown();
  });

  it('when a call hangs past the timeout, then it fails with SERVICE_UNAVAILABLE naming the time', async () => {
    const breaker = createBreaker(() => new Promise<never>(() => undefined), { name: 'slow', logger, timeoutMs: 50 });
    await expect(breaker.fire()).rejects.toMatchObject({ code: ErrorCodes.SERVICE_UNAVAILABLE, message: expect.stringContaining('50 ms') });
    breaker.shutdown();
  });

  it('when the open breaker lets a probe through after the reset timeout and it succeeds, then the breaker closes', async () => {
    let healthy = false;
    const breaker = createBreaker(
      async () => {
        if (!healthy) throw new Error('down');
        return 'ok';
      },
      { name: 'flappy', logger, timeoutMs: 1_000, volumeThreshold: 2, resetTimeoutMs: 50 },
    );
    for (let i = 0; i < 2; i++) await breaker.fire().catch(() => undefined);
    expect(breaker.state).toBe('open');
    healthy = true;
    await new Promise((r) => setTimeout(r, 80));
    await expect(breaker.fire()).resolves.toBe('ok');
    expect(breaker.state).toBe('closed');
    breaker.shutdown();
  });
});
