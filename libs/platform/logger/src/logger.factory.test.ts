import { Writable } from 'node:stream';
import { createLogger, withCorrelationId } from './index';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      cb();
    },
  });
  return { lines, destination };
}

describe('createLogger', () => {
  it('when logging inside a correlation scope, then every line (also after await) carries the id and the service', async () => {
    const { lines, destination } = capture();
    const logger = createLogger({ service: 'api-gateway', level: 'info', instanceId: 'gw-1', destination });
    await withCorrelationId('corr-42', async () => {
      logger.info({ event: 'a' }, 'first');
      await new Promise((r) => setImmediate(r));
      logger.child({ module: 'm' }).info({ event: 'b' }, 'second');
    });
    logger.info({ event: 'c' }, 'outside');
    expect(lines.map((l) => [l.event, l.correlationId, l.service, l.instance])).toEqual([
      ['a', 'corr-42', 'api-gateway', 'gw-1'],
      ['b', 'corr-42', 'api-gateway', 'gw-1'],
      ['c', undefined, 'api-gateway', 'gw-1'],
    ]);
    expect(lines[0]?.level).toBe('info');
  });

  it('when a secret is logged, then it is redacted', () => {
    const { lines, destination } = capture();
    const logger = createLogger({ service: 's', level: 'info', destination });
    logger.info({ password: 'hunter2', req: { headers: { authorization: 'Bearer x', cookie: 'c' } } }, 'login');
    const text = JSON.stringify(lines[0]);
    expect(text).not.toContain('hunter2');
    expect(text).not.toContain('Bearer x');
    expect(text).toContain('[redacted]');
  });
});
