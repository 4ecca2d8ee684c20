import { loadServiceSchemas } from '@cap/campaign-files';
import { SERVICES } from '@cap/contracts';
import { startRpcClient } from '@cap/platform-kafka';
import { checkRedis, createRedis } from '@cap/platform-redis';
import { createServiceBase, runMain, runService, startServiceHttp } from '@cap/platform-runtime';
import { loadGatewayConfig } from './config';
import { canonicalizeRateLimitConfig, createRateLimiter, createSoapAdmission, loadRateLimitConfig } from './rate-limit';
import { createDataModelRouter } from './datamodel.route';
import { createDownstreams } from './downstream.client';
import { createDeliveryHandlers } from './handlers/delivery.handlers';
import { createEventHandlers } from './handlers/event.handlers';
import { createPersistHandlers } from './handlers/persist.handlers';
import { createQueryHandlers } from './handlers/query.handlers';
import { createSessionHandlers } from './handlers/session.handlers';
import { createWorkflowHandlers } from './handlers/workflow.handlers';
import { createStagingHandlers } from './handlers/staging.handlers';
import { createPingRouter } from './ping.route';
import { createReportingRouter } from './reporting.route';
import { createAuthThrottle } from './session/auth.throttle';
import { createAuthenticator } from './session/authenticator';
import { createOperatorDirectory } from './session/operator.directory';
import { SessionStore } from './session/session.store';
import { createDispatcher } from './soap/soap.dispatcher';
import { createWsdlRouter } from './wsdl/wsdl.route';
import { createSoapRouter } from './soap/soap.route';

const VERSION = { major: 8, minor: 7, servicePack: 0 };
const BUILD_NUMBER = '9400';

function main(): void {
  const config = loadGatewayConfig(process.env);
  const base = createServiceBase('api-gateway', config);
  const { logger, messaging, registry } = base;
  // A bad limits file stops the start with every bad entry named.
  const rateLimits = loadRateLimitConfig(config.RATE_LIMITS_FILE || undefined);
  const schemas = loadServiceSchemas(__dirname, config.SCHEMA_DIRS);

  void runService({
    name: 'api-gateway',
    logger,
    shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
    async start(state) {
      const redis = await createRedis({ url: config.REDIS_URL, logger });
      const rpc = await startRpcClient(messaging, { instanceId: base.instanceId, defaultTimeoutMs: config.RPC_TIMEOUT_MS, registry });
      const downstreams = createDownstreams({ rpc, config, logger, registry });
      const sessionRedis = await createRedis({ url: config.REDIS_URL, logger, clientSideCache: { maxEntries: config.SESSION_CACHE_ENTRIES, ttlMs: config.SESSION_CACHE_TTL_MS } });
      const sessions = new SessionStore({ redis: sessionRedis, keyPrefix: config.REDIS_KEY_PREFIX, sessionTtlMs: config.SESSION_TTL_MS, longSessionTtlMs: config.LONG_SESSION_TTL_MS });
      const throttle = createAuthThrottle({
        redis,
        logger,
        registry,
        keyPrefix: config.REDIS_KEY_PREFIX,
        loginThreshold: config.AUTH_FAIL_LOGIN_THRESHOLD,
        addressThreshold: config.AUTH_FAIL_ADDRESS_THRESHOLD,
        windowMs: config.AUTH_FAIL_WINDOW_MS,
        baseLockMs: config.AUTH_LOCK_BASE_MS,
        maxLockMs: config.AUTH_LOCK_MAX_MS,
        redisTimeoutMs: config.RATE_LIMIT_REDIS_TIMEOUT_MS,
      });
      const operators = createOperatorDirectory({ downstreams, throttle, redis: sessionRedis, keyPrefix: config.REDIS_KEY_PREFIX, stateTtlMs: config.OPERATOR_STATE_TTL_MS });
      const authenticator = createAuthenticator({
        sessions,
        operators,
        throttle,
        allowSessionTokenOnly: config.ALLOW_SESSION_TOKEN_ONLY,
        loginTokenCacheMs: config.LOGIN_TOKEN_CACHE_MS,
        ...(config.JWT_SECRET
          ? {
              jwt: {
                key: new TextEncoder().encode(config.JWT_SECRET),
                options: { algorithms: config.JWT_ALGORITHMS, ...(config.JWT_ISSUER ? { issuer: config.JWT_ISSUER } : {}), ...(config.JWT_AUDIENCE ? { audience: config.JWT_AUDIENCE } : {}) },
                maxLifetimeMs: config.JWT_MAX_LIFETIME_MS,
              },
            }
          : {}),
      });
      let databaseId: { value: string; until: number } | undefined;
      const handlers = {
        ...createPersistHandlers({ schemas, downstreams }),
        ...createEventHandlers({ downstreams }),
        ...createDeliveryHandlers({ downstreams }),
        ...createWorkflowHandlers({ downstreams }),
        ...createStagingHandlers({ downstreams }),
        ...createQueryHandlers({ schemas, downstreams }),
        ...createSessionHandlers({
        schemas,
        sessions,
        authenticator,
        operators,
        downstreams,
        identity: { instanceName: config.INSTANCE_NAME, buildNumber: BUILD_NUMBER, version: VERSION, sessionTimeoutSeconds: Math.round(config.SESSION_TTL_MS / 1000) },
        async databaseId() {
          if (!databaseId || databaseId.until < Date.now()) {
            const option = await downstreams.call<{ value: string }>(SERVICES.localStore, 'option.get', { name: 'XtkDatabaseId' });
            databaseId = { value: option.value, until: Date.now() + 60_000 };
          }
          return databaseId.value;
        },
      }),
      };
      const dispatcher = createDispatcher({ schemas, handlers, authenticator });
      // Limits keyed by canonical API names: one bucket per API, whatever URN spelling a caller uses.
      const rateLimiter = await createRateLimiter({
        redis,
        logger,
        registry,
        config: canonicalizeRateLimitConfig(rateLimits, dispatcher.canonicalName, config.RATE_LIMITS_FILE ? `rate limits file ${config.RATE_LIMITS_FILE}` : 'built-in rate limits'),
        keyPrefix: `${config.REDIS_KEY_PREFIX}ratelimit:`,
        redisTimeoutMs: config.RATE_LIMIT_REDIS_TIMEOUT_MS,
      });
      const http = await startServiceHttp(base, config, {
        state,
        checks: [
          { name: 'redis', check: async () => Promise.all([checkRedis(redis), checkRedis(sessionRedis)]).then(() => undefined) },
          { name: 'kafka', check: () => messaging.checkHealth() },
          { name: 'rpc-replies', check: () => rpc.checkHealth() },
        ],
        mount: (app) => {
          // X-Forwarded-For is believed only from the proxies named in TRUST_PROXY (none by default): otherwise a
          // client could choose the address its rate limits and authentication failures are counted under.
          app.set('trust proxy', config.TRUST_PROXY.length > 0 ? config.TRUST_PROXY : false);
          // SOAP answers are never cached: no ETag (Express would hash every answer).
          app.set('etag', false);
          // The SOAP router first: nearly every request is a SOAP call.
          app.use(
            createSoapRouter({
              dispatcher,
              logger,
              maxBodyBytes: config.MAX_BODY_BYTES,
              xmlLimits: {
                maxDepth: config.XML_MAX_DEPTH,
                maxAttributesPerElement: config.XML_MAX_ATTRIBUTES_PER_ELEMENT,
                maxNamespaceDeclarationsPerElement: config.XML_MAX_NAMESPACE_DECLARATIONS_PER_ELEMENT,
                maxNamespaceDeclarations: config.XML_MAX_NAMESPACE_DECLARATIONS,
                maxNodes: config.XML_MAX_NODES,
                maxTextLength: config.XML_MAX_TEXT_CHARS,
                maxAttributeValueLength: config.XML_MAX_ATTRIBUTE_VALUE_CHARS,
              },
              admit: createSoapAdmission({ limiter: rateLimiter }),
              registry,
            }),
          );
          app.use(createDataModelRouter({ schemas, sessions }));
          app.use(createWsdlRouter({ schemas }));
          app.use(createReportingRouter({ downstreams, authenticator, operators, logger }));
          app.use(createPingRouter({ downstreams, logger, mcQueueMax: config.MC_QUEUE_MAX, instanceName: config.INSTANCE_NAME, version: `${VERSION.major}.${VERSION.minor}.${VERSION.servicePack}`, buildNumber: BUILD_NUMBER }));
        },
      });
      logger.info({ event: 'gateway.ready', url: http.url, schemas: schemas.size }, `Campaign API gateway at ${http.url}`);
      return {
        async stop() {
          await http.close(config.SHUTDOWN_TIMEOUT_MS / 2); // stop intake; in-flight requests finish
          await rateLimiter.close();
          await rpc.stop();
          await messaging.close();
          await redis.close().catch(() => undefined);
          await sessionRedis.close().catch(() => undefined);
        },
      };
    },
  });
}

runMain(main);
