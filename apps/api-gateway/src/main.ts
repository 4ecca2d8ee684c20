import { loadServiceSchemaSources } from '@cap/campaign-files';
import { createSchemaCatalog } from '@cap/campaign-schema';
import { SERVICES } from '@cap/contracts';
import { startRpcClient } from '@cap/platform-kafka';
import { checkRedis, createRedis } from '@cap/platform-redis';
import { createServiceBase, runMain, runService, startServiceHttp } from '@cap/platform-runtime';
import { createSecretCipher, hashPassword } from '@cap/platform-secrets';
import { loadGatewayConfig } from './config';
import { createDatabaseIdCache } from './database-id.cache';
import { createDataModelRouter } from './datamodel.route';
import { createDownstreams } from './downstream.client';
import { createFilesRouter } from './files/files.route';
import { createReportDataRouter } from './files/report-data.route';
import { createPingRouter } from './ping.route';
import { canonicalizeRateLimitConfig, createRateLimiter, createSoapAdmission, loadRateLimitConfig } from './rate-limit';
import { createReportingRouter } from './reporting.route';
import { createSchemaEntityQueries, type SourceStamp } from './schema-entities';
import { sourceDigestOf } from './schema-sources';
import { createSchemaVersions } from './schema-versions';
import { serverIdentity, versionText } from './server.identity';
import { createAuthThrottle } from './session/auth.throttle';
import { createAuthenticator } from './session/authenticator';
import { bearerOptions, oidcOptions } from './session/bearer.options';
import { createOperatorDirectory } from './session/operator.directory';
import { SessionStore } from './session/session.store';
import { createDispatcher } from './soap/soap.dispatcher';
import { createSoapRouter } from './soap/soap.route';
import { createBuilderSoapMethods } from './soap-methods/builder.soap-methods';
import { createDeliverySoapMethods } from './soap-methods/delivery.soap-methods';
import { createEventSoapMethods } from './soap-methods/event.soap-methods';
import { createFileResSoapMethods } from './soap-methods/file-res.soap-methods';
import { createLifecycleSoapMethods } from './soap-methods/lifecycle.soap-methods';
import { createPackageSoapMethods } from './soap-methods/package.soap-methods';
import { createPersistSoapMethods } from './soap-methods/persist.soap-methods';
import { createQuerySoapMethods } from './soap-methods/query.soap-methods';
import { createSchemaAuthoring, followSchemaSources } from './soap-methods/schema-authoring';
import { createSecretSoapMethods } from './soap-methods/secret.soap-methods';
import { createSessionSoapMethods } from './soap-methods/session.soap-methods';
import { createStagingSoapMethods } from './soap-methods/staging.soap-methods';
import { createWorkflowSoapMethods } from './soap-methods/workflow.soap-methods';
import { createWsdlRouter } from './wsdl/wsdl.route';

/**
 * The API gateway: Campaign's SOAP router and plain-HTTP endpoints in front of local-store and cloud-executor.
 * Wired top to bottom: configuration → clients → stores and caches → services → transports → start and stop.
 */
function main(): void {
  // Configuration. A bad limits file stops the start with every bad entry named.
  const config = loadGatewayConfig(process.env);
  const base = createServiceBase('api-gateway', config);
  const { logger, messaging, registry } = base;
  const rateLimits = loadRateLimitConfig(config.RATE_LIMITS_FILE || undefined);
  // The schema files, and the source schemas authored at run time compiled over them (docs/schema-authoring.md).
  const catalog = createSchemaCatalog(loadServiceSchemaSources(__dirname, config.SCHEMA_DIRS));
  const { schemas } = catalog;
  const identity = serverIdentity(config);

  void runService({
    name: 'api-gateway',
    logger,
    shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
    async start(state) {
      // Clients: Redis (limits, throttle), the sessions' Redis (client-side cache), RPC to the data services.
      const redis = await createRedis({ url: config.REDIS_URL, logger });
      const rpc = await startRpcClient(messaging, { instanceId: base.instanceId, defaultTimeoutMs: config.RPC_TIMEOUT_MS, registry });
      const downstreams = createDownstreams({ rpc, config, logger, registry });
      const sessionRedis = await createRedis({
        url: config.REDIS_URL,
        logger,
        clientSideCache: { maxEntries: config.SESSION_CACHE_ENTRIES, ttlMs: config.SESSION_CACHE_TTL_MS },
      });

      // Stores and caches.
      const sessions = new SessionStore({
        redis: sessionRedis,
        keyPrefix: config.REDIS_KEY_PREFIX,
        sessionTtlMs: config.SESSION_TTL_MS,
        longSessionTtlMs: config.LONG_SESSION_TTL_MS,
      });
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
      const operators = createOperatorDirectory({
        downstreams,
        throttle,
        redis: sessionRedis,
        keyPrefix: config.REDIS_KEY_PREFIX,
        stateTtlMs: config.OPERATOR_STATE_TTL_MS,
      });
      const databaseId = createDatabaseIdCache({ downstreams });
      // The instance keys (docs/secrets.md): secret methods, and external-account passwords written by Write or a package.
      const secretCipher = createSecretCipher(config.secretKeys);
      // The schemas served, as the gateways of this instance recorded them: a changed one gets a new lastModified.
      const schemaVersions = createSchemaVersions({ store: redis, keyPrefix: config.REDIS_KEY_PREFIX, schemas });
      const authoring = createSchemaAuthoring({ catalog, rpc, schemaVersions, timeoutMs: config.SCHEMA_INSTALL_TIMEOUT_MS, logger });
      // Authored source schemas: announcements from now on, then the stored ones (adopted before the versions are recorded).
      const schemaSources = await followSchemaSources({ messaging, instanceId: base.instanceId, downstreams, authoring, logger });
      await schemaVersions.record();

      // Services: who calls, the SOAP methods, the dispatcher that routes calls to them, the rate limiter.
      const jwt = bearerOptions(config);
      const oidc = oidcOptions(config, {
        onUnavailable: (why) => logger.warn({ event: 'oidc.jwks.unavailable', url: config.OIDC_JWKS_URL, why }, 'the OpenID Connect key set cannot be read'),
      });
      const authenticator = createAuthenticator({
        sessions,
        operators,
        throttle,
        allowSessionTokenOnly: config.ALLOW_SESSION_TOKEN_ONLY,
        loginTokenCacheMs: config.LOGIN_TOKEN_CACHE_MS,
        ...(jwt ? { jwt } : {}),
        ...(oidc ? { oidc } : {}),
      });
      const soapMethods = {
        ...createPersistSoapMethods({ schemas, downstreams, authoring, cipher: secretCipher }),
        ...createEventSoapMethods({ downstreams }),
        ...createDeliverySoapMethods({ downstreams }),
        ...createWorkflowSoapMethods({ downstreams }),
        ...createStagingSoapMethods({ downstreams }),
        ...createQuerySoapMethods({
          schemas,
          downstreams,
          // xtk:srcSchema, xtk:schema, xtk:entity: from the catalog this gateway serves, dated by local-store's table.
          schemaEntities: createSchemaEntityQueries({
            catalog,
            schemaDigest: schemaVersions.digestOf,
            versions: () => schemaVersions.all(),
            stamps: async () => (await downstreams.call<{ stamps: SourceStamp[] }>(SERVICES.localStore, 'schema.stamps', {})).stamps,
          }),
        }),
        ...createSessionSoapMethods({
          schemas,
          sessions,
          authenticator,
          operators,
          downstreams,
          identity,
          databaseId,
          schemaDigest: schemaVersions.digestOf,
          sourceSchema: (id) => sourceDigestOf(catalog, id),
        }),
        ...createSecretSoapMethods({ cipher: secretCipher, hashPassword }),
        ...createLifecycleSoapMethods({ downstreams, identity, schemaVersions }),
        ...createPackageSoapMethods({
          schemas,
          downstreams,
          logger: logger.child({ module: 'packages' }),
          cipher: secretCipher,
          installSourceSchemas: async (sources, ctx) => {
            for (const source of sources) await authoring.write(ctx, source);
          },
        }),
        ...createBuilderSoapMethods({ authoring }),
        ...createFileResSoapMethods({ downstreams, publicUrl: config.FILE_PUBLIC_URL, instanceName: config.INSTANCE_NAME }),
      };
      const dispatcher = createDispatcher({ schemas, soapMethods, authenticator });
      // Limits keyed by canonical API names: one bucket per API, whatever URN spelling a caller uses.
      const rateLimiter = await createRateLimiter({
        redis,
        logger,
        registry,
        config: canonicalizeRateLimitConfig(
          rateLimits,
          dispatcher.canonicalName,
          config.RATE_LIMITS_FILE ? `rate limits file ${config.RATE_LIMITS_FILE}` : 'built-in rate limits',
        ),
        keyPrefix: `${config.REDIS_KEY_PREFIX}ratelimit:`,
        redisTimeoutMs: config.RATE_LIMIT_REDIS_TIMEOUT_MS,
      });

      // Transports: the HTTP server (health checks, the SOAP router, the plain-HTTP routes) listens from here on.
      const http = await startServiceHttp(base, config, {
        state,
        checks: [
          { name: 'redis', check: async () => Promise.all([checkRedis(redis), checkRedis(sessionRedis)]).then(() => undefined) },
          { name: 'kafka', check: () => messaging.checkHealth() },
          { name: 'rpc-replies', check: () => rpc.checkHealth() },
          { name: 'schema-sources', check: () => schemaSources.checkHealth() },
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
          app.use(createFilesRouter({ downstreams, authenticator, logger, maxFileBytes: config.FILE_MAX_BYTES, instanceName: config.INSTANCE_NAME }));
          app.use(createReportDataRouter({ downstreams, authenticator, logger }));
          app.use(
            createPingRouter({
              downstreams,
              logger,
              mcQueueMax: config.MC_QUEUE_MAX,
              instanceName: config.INSTANCE_NAME,
              version: versionText(identity.version),
              buildNumber: identity.buildNumber,
            }),
          );
        },
      });

      // Started; stopping undoes it in reverse: intake first, then the clients.
      logger.info({ event: 'gateway.ready', url: http.url, schemas: schemas.size }, `Campaign API gateway at ${http.url}`);
      if (config.secretKeys.development)
        logger.warn({ event: 'secrets.development-key' }, 'No SECRETS_KEYS: Encrypt tokens use the public development key (docs/secrets.md)');
      return {
        async stop() {
          await http.close(config.SHUTDOWN_TIMEOUT_MS / 2); // stop intake; in-flight requests finish
          await rateLimiter.close();
          await schemaSources.stop();
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
