import { createLogger } from '@cap/platform-logger';
import { testEndpoints } from '@cap/platform-testing';
import { createMessaging, RETRY_PROFILES } from '../src/index';

/**
 * Integration tests' setup: gives the test platform (libs/platform/testing/src/platform.fixture.ts) the means to
 * delete its topics when it stops, so that a whole suite's topics never pile up on the broker.
 */
(globalThis as { capDeleteTestTopics?: (prefix: string) => Promise<void> }).capDeleteTestTopics = async (prefix: string) => {
  if (!prefix) return;
  const messaging = createMessaging({
    brokers: testEndpoints().kafkaBrokers,
    clientId: `${prefix}cleanup`,
    logger: createLogger({ service: 'test-cleanup', level: 'silent' }),
    retry: RETRY_PROFILES.fast,
  });
  try {
    await messaging.deleteTopics((await messaging.listTopics()).filter((name) => name.startsWith(prefix)));
  } finally {
    await messaging.close();
  }
};
