import { ConfigError, field, loadConfig } from './index';

const shape = {
  HTTP_PORT: field.port(8080),
  KAFKA_BROKERS: field.hostPortList('127.0.0.1:9092'),
  RPC_TIMEOUT_MS: field.durationMs(3000),
  DATABASE_URL: field.url(['postgres', 'postgresql'], 'postgres://postgres@127.0.0.1:5432/x'),
  MIGRATE_ON_START: field.boolean(true),
};

describe('loadConfig', () => {
  it('when the environment is empty, then every default applies and the result is frozen', () => {
    const cfg = loadConfig('svc', shape, {});
    expect(cfg).toEqual({
      HTTP_PORT: 8080,
      KAFKA_BROKERS: ['127.0.0.1:9092'],
      RPC_TIMEOUT_MS: 3000,
      DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/x',
      MIGRATE_ON_START: true,
    });
    expect(Object.isFrozen(cfg)).toBe(true);
  });

  it('when values are given, then they are coerced to their types', () => {
    const cfg = loadConfig('svc', shape, { HTTP_PORT: '0', KAFKA_BROKERS: 'a:1, b:2', MIGRATE_ON_START: 'no' });
    expect(cfg.HTTP_PORT).toBe(0);
    expect(cfg.KAFKA_BROKERS).toEqual(['a:1', 'b:2']);
    expect(cfg.MIGRATE_ON_START).toBe(false);
  });

  it('when several keys are bad, then one error names every bad key and its value', () => {
    let caught: unknown;
    try {
      loadConfig('svc', shape, {
        HTTP_PORT: 'eighty',
        KAFKA_BROKERS: 'nohost',
        RPC_TIMEOUT_MS: '-5',
        DATABASE_URL: 'mysql://x',
        MIGRATE_ON_START: 'maybe',
      });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const problems = (caught as ConfigError).problems.join('\n');
    for (const key of ['HTTP_PORT="eighty"', 'KAFKA_BROKERS="nohost"', 'RPC_TIMEOUT_MS="-5"', 'DATABASE_URL="mysql://x"', 'MIGRATE_ON_START="maybe"']) {
      expect(problems).toContain(key);
    }
    expect((caught as ConfigError).problems).toHaveLength(5);
  });

  it('when a value is blank, then it counts as unset', () => {
    expect(loadConfig('svc', shape, { HTTP_PORT: '  ' }).HTTP_PORT).toBe(8080);
  });
});
