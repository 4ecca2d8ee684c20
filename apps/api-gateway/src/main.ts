import { startRpcClient } from '@cap/platform-kafka';
import { checkRedis, createRedis } from '@cap/platform-redis';
import { createServiceBase, runMain, runService, startServiceHttp } from '@cap/platform-runtime';
import { loadGatewayConfig } from './config';
import { createDownstreams } from './downstream.client';
import { createPingRouter } from './ping.route';

function main(): void {
  const config = loadGatewayConfig(process.env);
  const base = createServiceBase('api-gateway', config);
  const { logger, messaging, registry } = base;

  void runService({
    name: 'api-gateway',
    logger,
    shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
    async start(state) {
      const redis = await createRedis({ url: config.REDIS_URL, logger });
      const rpc = await startRpcClient(messaging, { instanceId: base.instanceId, defaultTimeoutMs: config.RPC_TIMEOUT_MS });
      const downstreams = createDownstreams({ rpc, config, logger, registry });
      const http = await startServiceHttp(base, config, {
        state,
        checks: [
          { name: 'redis', check: () => checkRedis(redis) },
          { name: 'kafka', check: () => messaging.checkHealth() },
          { name: 'rpc-replies', check: () => rpc.checkHealth() },
        ],
        mount: (app) => app.use(createPingRouter({ downstreams, logger })),
      });
      logger.info({ event: 'gateway.ready', url: http.url }, `Campaign API gateway at ${http.url}`);
      return {
        async stop() {
          await http.close(config.SHUTDOWN_TIMEOUT_MS / 2); // stop intake; in-flight requests finish
          await rpc.stop();
          await messaging.close();
          await redis.close().catch(() => undefined);
        },
      };
    },
  });
}

runMain(main);
