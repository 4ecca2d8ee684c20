/**
 * P2's Kafka baseline, server side: an OS process serving `echo` on a request topic shaped like local-store's
 * (same partitions), with the platform's RPC server and nothing else. Started by p2.baselines.ts; prints
 * `ready` once a settled member of its group, stops on SIGTERM.
 *
 * Run: npx tsx apps/staging-sync/bench/rpc-echo.server.ts '{"brokers":["127.0.0.1:9092"],"prefix":"bench_x."}'
 */
import { TOPICS } from '@cap/contracts';
import { createLogger } from '@cap/platform-logger';
import { createMessaging, startRpcServer } from '@cap/platform-kafka';

async function main(options: { brokers: string[]; prefix: string }): Promise<void> {
  const logger = createLogger({ service: 'rpc-echo', level: 'warn' });
  const messaging = createMessaging({ brokers: options.brokers, clientId: `${options.prefix}echo-server`, topicPrefix: options.prefix, logger });
  await messaging.ensureTopics([TOPICS.localStoreRequests, TOPICS.rpcReplies]);
  const server = await startRpcServer(messaging, {
    service: 'rpc-echo',
    requestTopic: TOPICS.localStoreRequests,
    groupId: `${options.prefix}echo-server`,
    handlers: { echo: async (params) => params },
  });
  await server.ready;
  process.stdout.write('ready\n');
  process.once('SIGTERM', () => {
    void server
      .stop()
      .then(() => messaging.close())
      .finally(() => process.exit(0));
  });
}

main(JSON.parse(process.argv[2] ?? '{}')).catch((err: unknown) => {
  process.stderr.write(`${String((err as Error).stack ?? err)}\n`);
  process.exit(1);
});
