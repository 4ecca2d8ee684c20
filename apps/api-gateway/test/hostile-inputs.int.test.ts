import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import pg from 'pg';
import { escapeAttr, escapeText } from '@cap/campaign-xml';
import {
  startServiceProcess,
  startTestPlatform,
  testEndpoints,
  uniqueId,
  waitFor,
  withDb,
  type AppName,
  type ServiceProcess,
  type TestPlatform,
} from '@cap/platform-testing';
import { isAlive, phaseAt, printHostileSummary, startGatewayMonitor, type CategoryFigure, type GatewayFigures, type Phase } from './fixtures/hostile-monitor';
import { CANARY_ROWS, CANARY_TABLE, ENTITY_BOMBS, ENTITY_TEXT, onField, QUERY_POSITIONS, XTK_PAYLOADS, type XtkPayload } from './fixtures/hostile-payloads';

/**
 * Hostile inputs end to end through the gateway, for what the other suites do not cover that way (the fuzz in
 * soap-fuzz.int.test.ts, parser limits in xml-bombs.int.test.ts, brute force in authentication.int.test.ts, write
 * authorisation in authorization.int.test.ts, URN spellings in rate-limit.buckets.int.test.ts):
 *
 * - S2, XTK injection in every position of a queryDef (select, alias, where, nested and sub-query conditions,
 *   bool and set operators, orderBy, groupBy, having, schema names, paging), in DeleteCollection's where and in
 *   workflow query activities (their conditions, and the variables they use): each is refused with a Campaign
 *   fault or bound as a value. None ran as SQL: a canary table is still there with its rows in both databases,
 *   no call waited on its RPC deadline, no `pg_sleep` ever reached PostgreSQL, literals matched nothing.
 * - S1, DTDs, entities (internal, external, parameter, recursive), external references, XInclude, stylesheets
 *   and odd encodings: refused or answered without expanding or fetching anything (a TCP listener they name
 *   never gets a connection, nothing of /etc/passwd comes back); entity-like data is stored as text.
 * - S3, replay across replicas: a logged-off session replayed on another replica, an expired session, forged
 *   session tokens, a session token with another session's security token, forged bearer and login tokens.
 * - L4, rate-limit evasion: many sessions (and login tokens, bearer tokens) of one operator share one bucket,
 *   across replicas; addresses claimed in headers do not give an anonymous caller new buckets without a trusted
 *   proxy; the SDK's internal header does not move other calls out of their bucket.
 *
 * Then every service is alive and ready, no operator's rights changed, a fresh Ingest reaches the cloud DB
 * within 5 s. Printed at the end: per category the inputs tried and handled, and each gateway's peak RSS and
 * longest event-loop stall.
 */

const ROUTER = '/nl/jsp/soaprouter.jsp';
const CALL_BOUND_MS = 10_000; // the RPC deadline is 3 s: no answer may take longer than this (S1, S2)
const JWT_SECRET = 'hostile-secret-for-bearer-tokens-0123456789';
const RATE_LIMIT = 10;
const HOSTILE_DOMAIN = 'hostile.invalid';
const RSS_BOUND_MB = 400;

/**
 * Bugs this suite found that are not fixed yet: an input they explain counts as tried and not handled, and is listed
 * apart in the summary instead of failing the test that met it. Anything else that is not handled fails. (The three
 * it found first — EXISTS literals, a flush outliving its deadline, a DOCTYPE read whole — are fixed and have their
 * own tests below.)
 */
const KNOWN_BUGS: { id: string; matches: (position: string, answer: Answer) => boolean }[] = [];

interface Session {
  sessionToken: string;
  securityToken: string;
}

interface Answer {
  status: number;
  text: string;
  ms: number;
  headers: Headers;
  /** The Campaign code at the start of faultstring, for a fault. */
  code?: string;
  faultcode?: string;
  /** `Logon` for a LogonResponse. */
  response?: string;
}

const envelope = (urn: string, method: string, inner: string) =>
  '<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema">' +
  `<SOAP-ENV:Body><m:${method} xmlns:m="urn:${urn}">${inner}</m:${method}></SOAP-ENV:Body></SOAP-ENV:Envelope>`;

async function post(base: string, body: string, headers: Record<string, string> = {}): Promise<Answer> {
  const started = performance.now();
  const res = await fetch(`${base}${ROUTER}`, {
    method: 'POST',
    headers: { 'content-type': 'text/xml;charset=utf-8', ...headers },
    body,
    signal: AbortSignal.timeout(CALL_BOUND_MS),
  });
  const text = await res.text();
  const answer: Answer = { status: res.status, text, ms: performance.now() - started, headers: res.headers };
  const fault = /<faultstring[^>]*>((?:[A-Z]{3}-\d{6})|(?:CAP-\d{6}))\b/.exec(text)?.[1];
  if (fault) {
    answer.code = fault;
    answer.faultcode = /<faultcode>([^<]*)</.exec(text)?.[1] ?? '';
  }
  const response = /<(?:[\w-]+:)?(\w+)Response[\s>/]/.exec(text)?.[1];
  if (response && !fault) answer.response = response;
  return answer;
}

/** A SOAP call with the session token as the first parameter (or none) and the security token as a header. */
function call(base: string, urn: string, method: string, inner: string, session?: Partial<Session>, headers: Record<string, string> = {}): Promise<Answer> {
  const token = session?.sessionToken ? `<sessiontoken>${escapeText(session.sessionToken)}</sessiontoken>` : '<sessiontoken/>';
  return post(base, envelope(urn, method, `${token}${inner}`), {
    SOAPAction: `${urn}#${method}`,
    ...(session?.securityToken ? { 'X-Security-Token': session.securityToken } : {}),
    ...headers,
  });
}

async function logon(base: string, login: string, password: string): Promise<Session> {
  const answer = await call(base, 'xtk:session', 'Logon', `<login>${login}</login><password>${password}</password><parameters/>`);
  const sessionToken = /<pstrSessionToken[^>]*>([^<]+)</.exec(answer.text)?.[1];
  const securityToken = /<pstrSecurityToken[^>]*>([^<]+)</.exec(answer.text)?.[1];
  if (!sessionToken || !securityToken) throw new Error(`logon of ${login} failed: ${answer.status} ${answer.text.slice(0, 300)}`);
  return { sessionToken, securityToken };
}

const unescapeXml = (text: string) =>
  text.replace(/&(lt|gt|quot|apos|amp|#39);/g, (_, e: string) => ({ lt: '<', gt: '>', quot: '"', apos: "'", amp: '&', '#39': "'" })[e] ?? '');

/** `items` through `fn`, `limit` at a time, results in order. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      for (let i = next++; i < items.length; i = next++) results[i] = await fn(items[i]!, i);
    }),
  );
  return results;
}

/** A TCP listener that counts connections: what a document names must never be fetched. */
async function startListener(): Promise<{ url: string; connections: () => number; close(): Promise<void> }> {
  let count = 0;
  const server: Server = createServer((socket) => {
    count++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, connections: () => count, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

describe('hostile inputs through the gateway', () => {
  let platform: TestPlatform;
  let dir: string;
  /** Three gateway replicas on the same Redis, Kafka and databases; C issues sessions that live 1.5 s. */
  let gatewayA: ServiceProcess;
  let gatewayB: ServiceProcess;
  let gatewayC: ServiceProcess;
  let A: string;
  let B: string;
  let C: string;
  let admin: Session;
  let mc: Session;
  let listener: Awaited<ReturnType<typeof startListener>>;
  let monitors: { stop(): Promise<GatewayFigures> }[];
  let operatorsBefore: unknown[];
  const categories = new Map<string, CategoryFigure & { hows: Record<string, number> }>();
  const phases: Phase[] = [];
  let phaseStart = 0;
  beforeEach(() => {
    phaseStart = Date.now();
  });
  afterEach(() => {
    phases.push({ name: expect.getState().currentTestName ?? 'a test', start: phaseStart, end: Date.now() });
  });
  /** Inputs a known bug explains, by bug. */
  const knownBugHits = new Map<string, string[]>();
  const knownBug = (position: string, a: Answer, what: string): boolean => {
    const bug = KNOWN_BUGS.find((b) => b.matches(position, a));
    if (bug) knownBugHits.set(bug.id, [...(knownBugHits.get(bug.id) ?? []), what]);
    return bug !== undefined;
  };
  /** Counts an input of `category`, handled (`how`: refused, bound…) or not; returns `ok`. */
  const record = (category: string, ok: boolean, how?: string): boolean => {
    const c = categories.get(category) ?? { category, tried: 0, handled: 0, hows: {} };
    c.tried++;
    if (ok) c.handled++;
    if (ok && how) c.hows[how] = (c.hows[how] ?? 0) + 1;
    categories.set(category, c);
    return ok;
  };

  const localQuery = <T extends pg.QueryResultRow>(sql: string, params: unknown[] = []) =>
    withDb(platform.localDb.url, async (c) => (await c.query<T>(sql, params)).rows);
  const cloudQuery = <T extends pg.QueryResultRow>(sql: string, params: unknown[] = []) =>
    withDb(platform.cloudDb.url, async (c) => (await c.query<T>(sql, params)).rows);
  const operators = () =>
    localQuery(
      'SELECT o.name, o.label, o.rights, o.disabled, c.password_hash, c.allow_login_token FROM xtk_operator o LEFT JOIN cap_operator_credential c ON c.login = o.name ORDER BY o.name',
    );
  const write = (session: Session, doc: string, method = 'Write') => call(A, 'xtk:persist|xtk:session', method, `<doc xsi:type="">${doc}</doc>`, session);
  /** A new operator with mc's password ("mc") who may use login/password tokens. */
  const createOperator = async (rights: string): Promise<string> => {
    const login = uniqueId('hop').replace(/-/g, '_');
    const answer = await write(admin, `<operator xtkschema="xtk:operator" name="${login}" label="${login}" rights="${rights}"/>`);
    expect(answer.response).toBe('Write');
    await localQuery(
      `INSERT INTO cap_operator_credential (login, password_hash, allow_login_token) SELECT $1, password_hash, true FROM cap_operator_credential WHERE login = 'mc'`,
      [login],
    );
    return login;
  };
  const bearerFor = (sub: string, configure: (jwt: SignJWT) => SignJWT = (j) => j.setIssuedAt().setExpirationTime('10m'), secret = JWT_SECRET) =>
    configure(new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject(sub)).sign(new TextEncoder().encode(secret));

  /** The proof that nothing ran as SQL: canary tables intact in both databases, no pg_sleep ever reached PostgreSQL. */
  const expectNoSqlRan = async () => {
    for (const query of [localQuery, cloudQuery]) expect(await query(`SELECT id, note FROM ${CANARY_TABLE} ORDER BY id`)).toEqual(CANARY_ROWS);
    const sleeping = await withDb(
      testEndpoints().postgresAdminUrl,
      async (c) =>
        (
          await c.query(`SELECT datname, state, query FROM pg_stat_activity WHERE datname = ANY($1) AND query ILIKE '%pg_sleep%' AND pid <> pg_backend_pid()`, [
            [platform.localDb.name, platform.cloudDb.name],
          ])
        ).rows,
    );
    expect(sleeping).toEqual([]);
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cap-hostile-'));
    const limits = join(dir, 'rate-limits.json');
    // Two APIs with a small limit over a long window (exact counts whatever the machine's speed); the rest far
    // above what this file sends.
    writeFileSync(
      limits,
      JSON.stringify({
        windowMs: 60_000,
        default: { limit: 100_000 },
        internal: { limit: 100_000 },
        apis: { 'xtk:session#Logon': { limit: 100_000 }, 'xtk:session#GetUserInfo': { limit: RATE_LIMIT }, 'xtk:session#GetServerTime': { limit: RATE_LIMIT } },
        fallback: 'local',
      }),
    );
    // Forged credentials fail here by the dozen from one address: the authentication throttle (covered by
    // authentication.int.test.ts) is raised so that each forgery reaches the check it targets. The shared (Redis)
    // rate-limit decision gets a budget a loaded machine always meets: past it each replica would decide alone,
    // and the L4 tests count one bucket across replicas.
    const gatewayEnv = {
      LOG_LEVEL: 'warn',
      RATE_LIMITS_FILE: limits,
      RATE_LIMIT_REDIS_TIMEOUT_MS: '2000',
      JWT_SECRET,
      AUTH_FAIL_LOGIN_THRESHOLD: '100000',
      AUTH_FAIL_ADDRESS_THRESHOLD: '100000',
    };
    platform = await startTestPlatform({
      apps: ['local-store', 'cloud-executor', 'staging-sync', 'api-gateway'],
      envFor: {
        'api-gateway': gatewayEnv,
        'local-store': { LOG_LEVEL: 'warn' },
        'staging-sync': { LOG_LEVEL: 'warn' },
        'cloud-executor': { LOG_LEVEL: 'warn', CHANNEL_FILE_DIR: join(dir, 'messages') },
      },
    });
    gatewayA = platform.procs.get('api-gateway')!;
    // B takes A's place in `procs` (stopped with the platform); A is stopped here at the end.
    gatewayB = await platform.replace('api-gateway');
    const endpoints = testEndpoints();
    gatewayC = await startServiceProcess('api-gateway', {
      KAFKA_BROKERS: endpoints.kafkaBrokers.join(','),
      KAFKA_TOPIC_PREFIX: platform.topicPrefix,
      LOCAL_DATABASE_URL: platform.localDb.url,
      CLOUD_DATABASE_URL: platform.cloudDb.url,
      REDIS_URL: endpoints.redisUrl,
      REDIS_KEY_PREFIX: platform.topicPrefix,
      SERVICE_INSTANCE_ID: uniqueId('gateway-c'),
      ...gatewayEnv,
      SESSION_TTL_MS: '1500',
    });
    await gatewayC.waitUntilReady();
    [A, B, C] = [gatewayA.url, gatewayB.url, gatewayC.url];
    listener = await startListener();

    admin = await logon(A, 'admin', 'admin');
    mc = await logon(A, 'mc', 'mc');
    // The canaries: a table in each database that destructive payloads name, recipients and folders.
    for (const url of [platform.localDb.url, platform.cloudDb.url]) {
      await withDb(url, async (c) => {
        await c.query(`CREATE TABLE ${CANARY_TABLE} (id int PRIMARY KEY, note text NOT NULL)`);
        await c.query(`INSERT INTO ${CANARY_TABLE} (id, note) SELECT * FROM unnest($1::int[], $2::text[])`, [
          CANARY_ROWS.map((r) => r.id),
          CANARY_ROWS.map((r) => r.note),
        ]);
      });
    }
    const canaries = `<recipient-collection xtkschema="nms:recipient">${[1, 2, 3].map((i) => `<recipient email="canary${i}@${HOSTILE_DOMAIN}" firstName="Canary" _operation="insert"/>`).join('')}</recipient-collection>`;
    expect((await write(admin, canaries, 'WriteCollection')).response).toBe('WriteCollection');
    const folders = `<folder-collection xtkschema="xtk:folder">${[1, 2, 3].map((i) => `<folder name="canary${i}" label="Canary" _operation="insert"/>`).join('')}</folder-collection>`;
    expect((await write(admin, folders, 'WriteCollection')).response).toBe('WriteCollection');
    operatorsBefore = await operators();
    monitors = [startGatewayMonitor(gatewayA), startGatewayMonitor(gatewayB)];
  });

  afterAll(async () => {
    await Promise.all((monitors ?? []).map((m) => m.stop()));
    await listener?.close();
    await gatewayC?.stop();
    await gatewayA?.stop();
    await platform?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const userInfo = (base: string, session: Partial<Session>, headers: Record<string, string> = {}) =>
    call(base, 'xtk:session', 'GetUserInfo', '', session, headers);
  /** An authenticated call whose API is not rate limited here (GetUserInfo is: the L4 tests count it). */
  const option = (base: string, session: Partial<Session>, headers: Record<string, string> = {}) =>
    call(base, 'xtk:session', 'GetOption', '<name>XtkDatabaseId</name>', session, headers);
  /** An answer is a handled refusal when it is a Campaign fault (not a platform failure) within its bound. */
  const isCampaignFault = (a: Answer) => a.status === 200 && a.code !== undefined && !a.code.startsWith('CAP-') && a.ms < CALL_BOUND_MS;
  const isResponse = (a: Answer, method: string) => a.status === 200 && a.response === method && a.ms < CALL_BOUND_MS;

  describe('XTK injection in every position of a queryDef (S2)', () => {
    const cases = QUERY_POSITIONS.flatMap((position) => XTK_PAYLOADS.map((payload) => ({ position, payload })));

    it(`when ${XTK_PAYLOADS.length} hostile expressions are put in each of ${QUERY_POSITIONS.length} positions of a queryDef, then each is refused with a Campaign fault or bound as a value, and none ran as SQL`, async () => {
      const wrong: string[] = [];
      const codes: Record<string, number> = {};
      await mapLimit(cases, 4, async ({ position, payload }) => {
        const a = await call(A, 'xtk:queryDef', 'ExecuteQuery', `<document xsi:type="">${position.queryDef(payload.expr)}</document>`, mc);
        const count = Number(/ count="(\d+)"/.exec(a.text)?.[1] ?? NaN);
        const bound = isResponse(a, 'ExecuteQuery') && (!payload.literal || !position.counts || count === 0);
        if (a.code) codes[a.code] = (codes[a.code] ?? 0) + 1;
        if (
          !record(`XTK injection: ${position.name}`, isCampaignFault(a) || bound, isCampaignFault(a) ? 'refused' : 'bound') &&
          !knownBug(position.name, a, `${position.name} ${JSON.stringify(payload.expr)}`)
        )
          wrong.push(`${position.name} ${JSON.stringify(payload.expr)}: ${a.status} ${a.ms.toFixed(0)} ms ${a.text.slice(0, 300)}`);
      });
      console.info(`XTK injection through ExecuteQuery: fault codes ${JSON.stringify(codes)}`);
      expect(wrong).toEqual([]);
      await expectNoSqlRan();
    });

    it('when they are given to BuildQuery as an administrator, then what comes back is refused or SQL in which they are only bound parameters', async () => {
      const wrong: string[] = [];
      await mapLimit(cases, 4, async ({ position, payload }) => {
        const a = await call(A, 'xtk:queryDef', 'BuildQuery', `<document xsi:type="">${position.queryDef(payload.expr)}</document>`, admin);
        const sql = unescapeXml(/<pstrSql[^>]*>([^<]*)</.exec(a.text)?.[1] ?? '');
        // Our SQL: schema identifiers, placeholders, our own words; none of the payload's SQL.
        const clean =
          sql.length > 0 &&
          !/hostile_canary|pg_sleep|dblink|query_to_xml|set_config|pg_read_file|version\(|cap_operator_credential|\bunion\b|\bdrop\b|\bdelete\b|\binsert\b|;|--|\/\*|'/i.test(
            sql,
          );
        if (!record(`XTK injection: BuildQuery SQL`, isCampaignFault(a) || (isResponse(a, 'BuildQuery') && clean), isCampaignFault(a) ? 'refused' : 'bound'))
          wrong.push(`${position.name} ${JSON.stringify(payload.expr)}: ${a.status} ${a.text.slice(0, 400)}`);
      });
      expect(wrong).toEqual([]);
      await expectNoSqlRan();
    });

    it('when they are put in the where clause of DeleteCollection, then each is refused or deletes nothing, and none ran as SQL', async () => {
      const wrong: string[] = [];
      await mapLimit(XTK_PAYLOADS, 4, async (payload) => {
        const where = `<where><condition expr="${escapeAttr(onField(payload.expr, '@name'))}"/></where>`;
        const a = await call(
          A,
          'xtk:persist|xtk:session',
          'DeleteCollection',
          `<schema>xtk:folder</schema><where xsi:type="ns:Element">${where}</where><deleteParameters>false</deleteParameters>`,
          mc,
        );
        if (!record('XTK injection: DeleteCollection where', isCampaignFault(a) || isResponse(a, 'DeleteCollection'), isCampaignFault(a) ? 'refused' : 'bound'))
          wrong.push(`${JSON.stringify(payload.expr)}: ${a.status} ${a.text.slice(0, 300)}`);
      });
      expect(wrong).toEqual([]);
      // No payload is a condition every folder meets: a delete that escaped its literal would have taken them.
      expect((await localQuery<{ name: string }>("SELECT name FROM xtk_folder WHERE name LIKE 'canary%' ORDER BY name")).map((r) => r.name)).toEqual([
        'canary1',
        'canary2',
        'canary3',
      ]);
      await expectNoSqlRan();
    });

    /** Writes a workflow of `start → query on nms:recipient → end`, as admin (the workflow right). */
    const writeQueryWorkflow = async (condition: string): Promise<string> => {
      const internalName = uniqueId('HWKF').replace(/[^A-Za-z0-9_]/g, '_');
      const activities = `<activities><start name="start"><transition target="q"/></start><query name="q" schema="nms:recipient"><where><condition expr="${escapeAttr(condition)}"/></where><transition target="end"/></query><end name="end"/></activities>`;
      const a = await write(
        admin,
        `<workflow xtkschema="xtk:workflow" internalName="${internalName}" label="hostile"><activities>${escapeText(activities)}</activities></workflow>`,
      );
      expect(a.response).toBe('Write');
      return internalName;
    };
    /** The run's end: finished (with the records its query matched) or in error; undefined while it runs. */
    const runOutcome = async (internalName: string) => {
      const [instance] = await cloudQuery<{ workflow_id: string; state: number; failed: boolean; status: string | null }>(
        'SELECT workflow_id, state, failed, status FROM cap_wkf_instance WHERE internal_name = $1',
        [internalName],
      );
      if (!instance || (instance.state !== 20 && !instance.failed)) return undefined;
      const [end] = await cloudQuery<{ n: string | null }>(
        "SELECT vars->>'recCount' AS n FROM cap_wkf_task WHERE workflow_id = $1 AND activity = 'end' ORDER BY id DESC LIMIT 1",
        [instance.workflow_id],
      );
      return { state: instance.state, failed: instance.failed, status: instance.status ?? '', recCount: end?.n ?? null };
    };

    it("when they are put in a workflow query activity's condition, then Start refuses them with the compiler's fault or the run matches nothing, and none ran as SQL", async () => {
      const wrong: string[] = [];
      const started: { name: string; payload: XtkPayload }[] = [];
      await mapLimit(XTK_PAYLOADS, 4, async (payload) => {
        const name = await writeQueryWorkflow(payload.expr);
        const a = await call(A, 'xtk:workflow', 'Start', `<workflowId>${name}</workflowId>`, admin);
        if (isResponse(a, 'Start')) started.push({ name, payload });
        else if (!record('XTK injection: workflow query condition', isCampaignFault(a), 'refused at Start'))
          wrong.push(`${JSON.stringify(payload.expr)}: ${a.status} ${a.text.slice(0, 300)}`);
      });
      for (const { name, payload } of started) {
        const outcome = await waitFor(`workflow ${name} to finish`, () => runOutcome(name), { timeoutMs: 20_000, intervalMs: 100 });
        // A run that failed must fail with a coded reason; one that finished matched no recipient for a literal.
        const ok = outcome.failed ? /^Error: [A-Z]{3}-\d{6} /.test(outcome.status) : outcome.state === 20 && (!payload.literal || outcome.recCount === '0');
        if (!record('XTK injection: workflow query condition', ok, outcome.failed ? 'run failed with a code' : 'bound'))
          wrong.push(`${JSON.stringify(payload.expr)} ran: ${JSON.stringify(outcome)}`);
      }
      expect(wrong).toEqual([]);
      await expectNoSqlRan();
    });

    it('when workflow variables that a query condition uses carry SQL, then they are bound as values: every run finishes having matched nothing', async () => {
      const values = [
        "x' OR '1'='1",
        `'; DROP TABLE ${CANARY_TABLE}; --`,
        "\\'; SELECT pg_sleep(30); --",
        "x\\' OR 1=1 --",
        '＇ OR ＇1＇=＇1',
        `' || (SELECT note FROM ${CANARY_TABLE} LIMIT 1) || '`,
        '$(instance/vars/@email)',
        `canary1@${HOSTILE_DOMAIN}' OR @email LIKE '%`,
      ];
      const conditions = ["@email = '$(instance/vars/@email)'", '@email = $(instance/vars/@email)'];
      const runs = await mapLimit(
        conditions.flatMap((condition) => values.map((value) => ({ condition, value }))),
        4,
        async ({ condition, value }) => {
          const name = await writeQueryWorkflow(condition);
          const a = await call(
            A,
            'xtk:workflow',
            'StartWithParameters',
            `<workflowId>${name}</workflowId><parameters xsi:type="ns:Element"><variables email="${escapeAttr(value)}"/></parameters>`,
            admin,
          );
          return { name, condition, value, a };
        },
      );
      const wrong: string[] = [];
      for (const run of runs) {
        if (!isResponse(run.a, 'StartWithParameters')) {
          record('XTK injection: workflow variables', false);
          wrong.push(`${run.condition} with ${JSON.stringify(run.value)}: ${run.a.text.slice(0, 300)}`);
          continue;
        }
        const outcome = await waitFor(`workflow ${run.name} to finish`, () => runOutcome(run.name), { timeoutMs: 20_000, intervalMs: 100 });
        if (!record('XTK injection: workflow variables', outcome.state === 20 && !outcome.failed && outcome.recCount === '0', 'bound'))
          wrong.push(`${run.condition} with ${JSON.stringify(run.value)}: ${JSON.stringify(outcome)}`);
      }
      expect(wrong).toEqual([]);
      await expectNoSqlRan();
    });
  });

  describe('DTDs, entities and external references (S1)', () => {
    it(`when ${ENTITY_BOMBS.length} calls carry DTDs, entities, XInclude, stylesheets or odd encodings, then DTDs are refused, nothing is expanded or fetched, and nothing of /etc/passwd comes back`, async () => {
      const wrong: string[] = [];
      for (const bomb of ENTITY_BOMBS) {
        const a = await post(A, bomb.body(listener.url), { SOAPAction: 'xtk:session#Logon' });
        const leaks = /root:x?:0:0|\/bin\/(?:ba)?sh|lollollol|<injected/.test(a.text);
        // Without a DTD: a Campaign answer (the Logon fails: no such login), never the file or a fetch.
        const ok =
          !leaks && a.status === 200 && (bomb.code ? a.code === bomb.code : a.code !== undefined && !a.code.startsWith('CAP-')) && a.ms < CALL_BOUND_MS;
        if (!record('XML: DTD, entities, external references', ok))
          wrong.push(`${bomb.label}: ${a.status} ${a.code ?? ''} ${a.ms.toFixed(0)} ms ${a.text.slice(0, 300)}`);
      }
      expect(wrong).toEqual([]);
      expect(listener.connections()).toBe(0);
      expect(isAlive(gatewayA.pid)).toBe(true);
    });

    // A DOCTYPE is refused where it starts, in the prolog, before its internal subset is read (it used to be
    // refused once the whole declaration was parsed: ~1.9 s for 7 MB, four times a valid call of the same size).
    it('when a 7 MB DOCTYPE arrives, then it is refused as soon as it starts: sooner than a valid call of the same size is parsed', async () => {
      const dtd = ENTITY_BOMBS.find((b) => b.label.startsWith('a 7 MB internal DTD subset'))!.body(listener.url);
      const comment = envelope(
        'xtk:session',
        'GetOption',
        `<!--${'c'.repeat(dtd.length)}--><sessiontoken>${mc.sessionToken}</sessiontoken><name>XtkDatabaseId</name>`,
      );
      const median = async (body: string) => {
        const ms: number[] = [];
        for (let i = 0; i < 3; i++) ms.push((await post(A, body, { 'X-Security-Token': mc.securityToken })).ms);
        return ms.sort((a, b) => a - b)[1]!;
      };
      const validMs = await median(comment);
      const refusedMs = await median(dtd);
      console.info(
        `[hostile] hostile-inputs | a ${(dtd.length / 1e6).toFixed(1)} MB DOCTYPE refused in ${refusedMs.toFixed(0)} ms (median of 3); a valid call of the same size answered in ${validMs.toFixed(0)} ms`,
      );
      expect(refusedMs).toBeLessThan(validMs);
    });

    it('when entity-like text is written as data, then it is read back as the same text, never expanded by a service that parses it again', async () => {
      const email = `entity@${HOSTILE_DOMAIN}`;
      const a = await write(
        mc,
        `<recipient xtkschema="nms:recipient" email="${email}" lastName="${escapeAttr(ENTITY_TEXT.slice(0, 64))}" _operation="insert"/>`,
      );
      const event = await call(
        A,
        'nms:rtEvent',
        'PushEvent',
        `<domEvent xsi:type=""><rtEvent type="welcome" email="${email}"><ctx><text>${escapeText(ENTITY_TEXT)}</text></ctx></rtEvent></domEvent>`,
        mc,
      );
      const [row] = await cloudQuery<{ last_name: string }>('SELECT last_name FROM nms_recipient WHERE email = $1', [email]);
      const [stored] = await localQuery<{ ctx: string }>('SELECT ctx FROM nms_rt_event WHERE email = $1', [email]);
      expect(record('XML: entity-like data', a.response === 'Write' && row?.last_name === ENTITY_TEXT.slice(0, 64))).toBe(true);
      expect(record('XML: entity-like data', event.response === 'PushEvent' && (stored?.ctx ?? '').includes(escapeText(ENTITY_TEXT)))).toBe(true);
      expect(listener.connections()).toBe(0);
    });
  });

  describe('replayed and forged credentials (S3)', () => {
    /** The ways a client presents a session token: first parameter, X-Session-Token, the cookie; with and without its security token. */
    const presentations = (s: Session): { label: string; session: Partial<Session>; headers: Record<string, string> }[] => [
      { label: 'parameter + security token', session: s, headers: {} },
      { label: 'parameter alone', session: { sessionToken: s.sessionToken }, headers: {} },
      { label: 'X-Session-Token', session: { securityToken: s.securityToken }, headers: { 'X-Session-Token': s.sessionToken } },
      { label: 'cookie', session: {}, headers: { Cookie: `__sessiontoken=${s.sessionToken}`, 'X-Security-Token': s.securityToken } },
    ];
    const expectRefusedEverywhere = async (category: string, s: Session) => {
      const wrong: string[] = [];
      for (const base of [A, B, C]) {
        for (const p of presentations(s)) {
          const a = await option(base, p.session, p.headers);
          if (!record(category, a.status === 200 && a.code === 'XSV-350008')) wrong.push(`${base} ${p.label}: ${a.status} ${a.text.slice(0, 200)}`);
        }
      }
      expect(wrong).toEqual([]);
    };

    it('when a session logged off on one replica is replayed on the others that had it cached, then every replica refuses it in every form', async () => {
      const s = await logon(A, 'mc', 'mc');
      for (const base of [A, B, C]) expect((await option(base, s)).response).toBe('GetOption'); // cached on each
      expect((await call(A, 'xtk:session', 'Logoff', '', s)).response).toBe('Logoff');
      const loggedOff = Date.now();
      // Redis tells the other replicas at once; how long that took is printed, not asserted (a loaded machine).
      await waitFor(
        'B and C to refuse the logged-off session',
        async () => (await option(B, s)).code === 'XSV-350008' && (await option(C, s)).code === 'XSV-350008',
        { timeoutMs: 5_000, intervalMs: 10 },
      );
      console.info(`[hostile] hostile-inputs | a Logoff on A was refused on B and C ${Date.now() - loggedOff} ms later`);
      await expectRefusedEverywhere('auth: logged-off session replayed', s);
    });

    it('when a session has expired, then every replica refuses it in every form', async () => {
      const s = await logon(C, 'mc', 'mc'); // C's sessions live 1.5 s
      expect((await option(A, s)).response).toBe('GetOption');
      expect((await option(B, s)).response).toBe('GetOption');
      await waitFor(
        'the session to expire on every replica',
        async () => (await Promise.all([A, B, C].map((base) => option(base, s)))).every((a) => a.code === 'XSV-350008'),
        { timeoutMs: 10_000, intervalMs: 100 },
      );
      await expectRefusedEverywhere('auth: expired session', s);
    });

    it("when session tokens are forged, or a real one comes with another session's security token, then each is refused", async () => {
      const other = await logon(B, 'mc', 'mc');
      const flip = (t: string, at: number) => `${t.slice(0, at)}${t[at] === 'A' ? 'B' : 'A'}${t.slice(at + 1)}`;
      const forged: { label: string; session: Partial<Session>; headers?: Record<string, string> }[] = [
        { label: 'a random token of the right shape', session: { sessionToken: `___${randomUUID().toUpperCase()}` } },
        { label: 'a random token with a real security token', session: { sessionToken: `___${randomUUID().toUpperCase()}`, securityToken: mc.securityToken } },
        { label: 'one character changed', session: { sessionToken: flip(mc.sessionToken, 10), securityToken: mc.securityToken } },
        { label: 'the last character changed', session: { sessionToken: flip(mc.sessionToken, mc.sessionToken.length - 1) } },
        { label: 'lower case', session: { sessionToken: mc.sessionToken.toLowerCase(), securityToken: mc.securityToken } },
        { label: 'a suffix', session: { sessionToken: `${mc.sessionToken}0`, securityToken: mc.securityToken } },
        { label: 'the prefix alone', session: { sessionToken: '___' } },
        { label: 'a 5,000-character token', session: { sessionToken: `___${'A'.repeat(5_000)}` } },
        { label: 'the security token as session token', session: { sessionToken: mc.securityToken } },
        { label: 'a security token alone', session: { securityToken: mc.securityToken } },
        { label: "mc's session with another session's security token", session: { sessionToken: mc.sessionToken, securityToken: other.securityToken } },
        { label: "mc's session with admin's security token", session: { sessionToken: mc.sessionToken, securityToken: admin.securityToken } },
        { label: "admin's session with mc's security token", session: { sessionToken: admin.sessionToken, securityToken: mc.securityToken } },
        {
          label: "admin's session with a security token one character off",
          session: { sessionToken: admin.sessionToken, securityToken: flip(admin.securityToken, 5) },
        },
        { label: "admin's session with an empty-looking security token", session: { sessionToken: admin.sessionToken }, headers: { 'X-Security-Token': '==' } },
        { label: 'a login token for an operator not allowed one (admin)', session: { sessionToken: 'admin/admin' } },
        { label: 'a login token with a wrong password', session: { sessionToken: 'mc/wrong' } },
        { label: 'a login token of a login that does not exist', session: { sessionToken: 'ghost/ghost' } },
      ];
      const wrong: string[] = [];
      for (const f of forged) {
        for (const base of [A, B]) {
          const a = await option(base, f.session, f.headers);
          if (!record('auth: forged session or login token', a.status === 200 && a.code === 'XSV-350008'))
            wrong.push(`${f.label} on ${base}: ${a.status} ${a.text.slice(0, 200)}`);
        }
      }
      expect(wrong).toEqual([]);
      // The genuine sessions still work.
      const still = await option(A, mc);
      expect(still.text).toContain('GetOptionResponse');
      expect((await option(B, admin)).response).toBe('GetOption');
    });

    it('when bearer tokens are forged (wrong key, no algorithm, expired, not yet valid, unknown subject, malformed), then BearerTokenLogon and per-call bearer refuse each', async () => {
      const now = Math.floor(Date.now() / 1000);
      const noneAlg = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${Buffer.from(JSON.stringify({ sub: 'admin', exp: now + 60 })).toString('base64url')}.`;
      const valid = await bearerFor('admin');
      const tokens: [string, string][] = [
        ['signed with another key', await bearerFor('admin', undefined, 'not-the-secret-0123456789abcdef')],
        ['alg none', noneAlg],
        ['expired', await bearerFor('admin', (j) => j.setIssuedAt(now - 600).setExpirationTime(now - 60))],
        [
          'not valid yet',
          await bearerFor('admin', (j) =>
            j
              .setIssuedAt()
              .setNotBefore(now + 600)
              .setExpirationTime(now + 900),
          ),
        ],
        // Signed with the right key: a genuine token naming nobody (a bad bearer token as any other: XSV-350008).
        ['an unknown subject', await bearerFor('ghost-operator')],
        ['a valid token with its signature cut', valid.slice(0, valid.lastIndexOf('.') + 1)],
        [
          'a valid token with its payload changed',
          (() => {
            const [h, , sig] = valid.split('.');
            return `${h}.${Buffer.from(JSON.stringify({ sub: 'admin', exp: now + 86_400 * 365 })).toString('base64url')}.${sig}`;
          })(),
        ],
        ['garbage', 'not.a.jwt'],
        ['empty', ''],
      ];
      const wrong: string[] = [];
      for (const [label, token] of tokens) {
        const logonAnswer = await call(A, 'xtk:session', 'BearerTokenLogon', `<bearerToken>${escapeText(token)}</bearerToken>`);
        const refused = (a: Answer) => a.status === 200 && a.code === 'XSV-350008';
        if (!record('auth: forged bearer token', refused(logonAnswer))) wrong.push(`BearerTokenLogon ${label}: ${logonAnswer.text.slice(-400)}`);
        const perCall = await option(B, {}, { Authorization: `Bearer ${token}` });
        if (!record('auth: forged bearer token', refused(perCall))) wrong.push(`per-call ${label}: ${perCall.text.slice(0, 200)}`);
      }
      expect(wrong).toEqual([]);
      expect((await call(A, 'xtk:session', 'BearerTokenLogon', `<bearerToken>${valid}</bearerToken>`)).response).toBe('BearerTokenLogon');
    });
  });

  describe('rate-limit evasion: one bucket per API and caller whatever the spelling (L4)', () => {
    const policy = `"xtk:session#GetUserInfo";q=${RATE_LIMIT};w=60`;
    /** Admitted and refused calls among `answers`; every refusal must be a 429 with Retry-After and the API's policy. */
    const tallyLimited = (category: string, answers: Answer[], expectedPolicy: string) => {
      const admitted = answers.filter((a) => a.status === 200 && a.code === undefined).length;
      const refused = answers.filter(
        (a) => a.status === 429 && Number(a.headers.get('retry-after')) >= 1 && a.headers.get('ratelimit-policy') === expectedPolicy,
      ).length;
      for (const a of answers)
        record(category, (a.status === 200 && a.code === undefined) || (a.status === 429 && a.headers.get('ratelimit-policy') === expectedPolicy));
      return { admitted, refused, other: answers.length - admitted - refused };
    };

    it('when one operator calls through many sessions, login tokens and bearer tokens on two replicas, then one bucket counts them all', async () => {
      const login = await createOperator('messageCenter');
      const ways: { session: Partial<Session>; headers: Record<string, string> }[] = [
        ...(await Promise.all([A, A, A, B, B, B].map((base) => logon(base, login, 'mc')))).map((s) => ({ session: s, headers: {} })),
        { session: { sessionToken: `${login}/mc` }, headers: {} },
        { session: {}, headers: { Authorization: `Bearer ${await bearerFor(login)}` } },
      ];
      const answers: Answer[] = [];
      for (let i = 0; i < 3 * RATE_LIMIT; i++) {
        const way = ways[i % ways.length]!;
        answers.push(await userInfo(i % 2 ? B : A, way.session, way.headers));
      }
      expect(tallyLimited('rate limit: many sessions of one operator', answers, policy)).toEqual({ admitted: RATE_LIMIT, refused: 2 * RATE_LIMIT, other: 0 });
    });

    it('when an anonymous caller claims other addresses in headers without a trusted proxy, then its own address is counted', async () => {
      const claims = (i: number): Record<string, string> => {
        const ip = `203.0.113.${i + 1}`;
        return [
          { 'X-Forwarded-For': ip },
          { 'X-Forwarded-For': `${ip}, 127.0.0.1` },
          { 'X-Real-IP': ip },
          { Forwarded: `for=${ip}` },
          { 'True-Client-IP': ip },
          { 'CF-Connecting-IP': ip },
          { 'X-Client-IP': ip },
          { 'X-Cluster-Client-IP': ip },
          { 'Client-IP': ip },
          { 'X-Originating-IP': ip },
        ][i % 10]!;
      };
      const answers: Answer[] = [];
      for (let i = 0; i < 3 * RATE_LIMIT; i++) answers.push(await call(i % 2 ? B : A, 'xtk:session', 'GetServerTime', '', undefined, claims(i)));
      expect(tallyLimited('rate limit: addresses claimed in headers', answers, `"xtk:session#GetServerTime";q=${RATE_LIMIT};w=60`)).toEqual({
        admitted: RATE_LIMIT,
        refused: 2 * RATE_LIMIT,
        other: 0,
      });
    });

    it("when calls other than schema downloads carry the SDK's internal header, then they stay in their own API's bucket", async () => {
      const login = await createOperator('messageCenter');
      const s = await logon(A, login, 'mc');
      const values = ['1', '1', 'true', ' 1', '01'];
      const answers: Answer[] = [];
      for (let i = 0; i < 3 * RATE_LIMIT; i++) answers.push(await userInfo(i % 2 ? B : A, s, { 'ACC-SDK-Call-Internal': values[i % values.length]! }));
      expect(tallyLimited('rate limit: SDK internal header', answers, policy)).toEqual({ admitted: RATE_LIMIT, refused: 2 * RATE_LIMIT, other: 0 });
    });
  });

  // An EXISTS sub-query whose select bound a literal used to leave that parameter out of the statement: PostgreSQL
  // refused it, the handler crashed (CAP-100003) and the failures opened the gateway's breaker for everyone.
  it('when EXISTS sub-queries that select a literal are sent again and again, then each gets a Campaign fault and cloud-executor stays available to everyone', async () => {
    const exists = `<queryDef schema="nms:recipient" operation="count"><where><condition setOperator="EXISTS"><subQuery schema="nms:recipient"><select><node expr="Lower('x')"/></select></subQuery></condition></where></queryDef>`;
    const plain = `<queryDef schema="nms:recipient" operation="count"><where><condition expr="@email = 'nobody'"/></where></queryDef>`;
    const query = (queryDef: string) => call(A, 'xtk:queryDef', 'ExecuteQuery', `<document xsi:type="">${queryDef}</document>`, mc);
    try {
      const codes: (string | undefined)[] = [];
      for (let i = 0; i < 6; i++) codes.push((await query(exists)).code);
      const after = await query(plain);
      expect({ codes: codes.filter((c) => c === undefined || c.startsWith('CAP-')), after: after.response ?? after.code }).toEqual({
        codes: [],
        after: 'ExecuteQuery',
      });
    } finally {
      // Whatever happened, cloud-executor answers again before the next test (the breaker closes after 5 s).
      await waitFor('cloud-executor to answer queries again', async () => (await query(plain)).response === 'ExecuteQuery', {
        timeoutMs: 20_000,
        intervalMs: 250,
      });
    }
  });

  // local-store's StartReplicateStagingData used to wait up to STAGING_FLUSH_WAIT_MS (3 s), the gateway's RPC deadline:
  // while staging-sync was behind or down each call ended in CAP-100001 and counted against local-store's breaker,
  // so a few of them made local-store unavailable to everyone through that gateway. It now answers before the
  // caller's deadline. Sent through gateway C, so that its breaker alone is at stake.
  it('when the staging backlog cannot be flushed in time, then StartReplicateStagingData answers within its deadline and local-store stays available to everyone', async () => {
    const sync = platform.procs.get('staging-sync')!;
    await sync.stop();
    try {
      const ingest = await call(
        C,
        'xtk:session',
        'Ingest',
        `<domDoc xsi:type=""><recipientStg xtkschema="nms:recipientStg" email="backlog@${HOSTILE_DOMAIN}"/></domDoc>`,
        mc,
      );
      expect(ingest.response).toBe('Ingest');
      const flushes = (
        await Promise.all(
          Array.from({ length: 4 }, () => call(C, 'nms:replicationStrategy', 'StartReplicateStagingData', '<schema>nms:recipient</schema>', mc)),
        )
      ).map((a) => a.response ?? a.code ?? String(a.status));
      const logonAfter = await call(C, 'xtk:session', 'Logon', '<login>admin</login><password>admin</password><parameters/>');
      expect({ flushes: flushes.filter((f) => f.startsWith('CAP-')), logon: logonAfter.response ?? logonAfter.code }).toEqual({ flushes: [], logon: 'Logon' });
    } finally {
      await platform.replace('staging-sync');
      // Whatever happened, C reaches local-store again before the next test (the breaker closes after 5 s).
      await waitFor('local-store to answer through gateway C again', async () => (await option(C, mc)).response === 'GetOption', {
        timeoutMs: 20_000,
        intervalMs: 250,
      });
    }
  });

  it('when the hostile inputs are over, then every service is alive and ready, no operator changed, a fresh Ingest reaches the cloud DB within 5 s, and the gateways stayed within bounds', async () => {
    const apps: AppName[] = ['local-store', 'cloud-executor', 'staging-sync'];
    const procs = [gatewayA, gatewayB, gatewayC, ...apps.map((a) => platform.procs.get(a)!)];
    expect(procs.filter((p) => !isAlive(p.pid)).map((p) => p.app)).toEqual([]);
    expect(await Promise.all(procs.map(async (p) => `${p.app} ${(await p.readyz()).status}`))).toEqual(procs.map((p) => `${p.app} 200`));
    // Operators created above were added; none that existed changed (rights, labels, credentials).
    const after = (await operators()) as { name: string }[];
    expect(after.filter((o) => (operatorsBefore as { name: string }[]).some((b) => b.name === o.name))).toEqual(operatorsBefore);

    const email = `fresh@${HOSTILE_DOMAIN}`;
    const started = Date.now();
    const ingest = await call(
      A,
      'xtk:session',
      'Ingest',
      `<domDoc xsi:type=""><recipientStg xtkschema="nms:recipientStg" email="${email}" firstName="Fresh"/></domDoc>`,
      mc,
    );
    expect(ingest.response).toBe('Ingest');
    await waitFor('the fresh Ingest in the cloud DB', async () => (await cloudQuery('SELECT 1 FROM nms_recipient WHERE email = $1', [email])).length === 1, {
      timeoutMs: 5_000,
      intervalMs: 50,
    });
    const stagingMs = Date.now() - started;

    const [figuresA, figuresB] = await Promise.all(monitors.map((m) => m.stop()));
    printHostileSummary(
      'hostile-inputs',
      [...categories.values()].map(({ hows, ...c }) => ({
        ...c,
        ...(Object.keys(hows).length > 1
          ? {
              detail: Object.entries(hows)
                .map(([how, n]) => `${how} ${n}`)
                .join(', '),
            }
          : {}),
      })),
      [
        { name: 'gateway A', figures: figuresA!, during: phaseAt(phases, figuresA!.longestAt) },
        { name: 'gateway B', figures: figuresB!, during: phaseAt(phases, figuresB!.longestAt) },
      ],
    );
    console.info(`[hostile] hostile-inputs | fresh Ingest reached the cloud DB in ${stagingMs} ms`);
    expect(stagingMs).toBeLessThan(5_000);
    for (const f of [figuresA!, figuresB!]) {
      expect(f.alive).toBe(true);
      expect(f.peakRssMb).toBeLessThan(RSS_BOUND_MB);
    }
    const explained = [...knownBugHits.values()].flat();
    for (const [bug, inputs] of knownBugHits) console.info(`[hostile] hostile-inputs | known bug: ${bug} | ${inputs.length} inputs, e.g. ${inputs[0]}`);
    expect([...categories.values()].reduce((n, c) => n + c.tried - c.handled, 0)).toBe(explained.length);
  });
});
