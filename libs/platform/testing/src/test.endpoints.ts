/** Where integration tests find the real infrastructure (same variables as the services, same defaults). */
export interface TestEndpoints {
  postgresAdminUrl: string;
  redisUrl: string;
  kafkaBrokers: string[];
}

export function testEndpoints(env: Record<string, string | undefined> = process.env): TestEndpoints {
  return {
    postgresAdminUrl: env['TEST_POSTGRES_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    redisUrl: env['TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379/0',
    kafkaBrokers: (env['KAFKA_BROKERS'] ?? '127.0.0.1:9092').split(','),
  };
}
