import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { failure, sdkLogon, startTestPlatform, uniqueId, waitFor, withDb, type SdkClient, type TestPlatform } from '@cap/platform-testing';

// Adobe's own client, unmodified.
const sdk = require('@adobe/acc-js-sdk');

/** Names of internal RPC methods and validator wording: none may reach a client. */
const INTERNALS =
  /operator\.authenticate|option\.get|subscription\.change|data\.(write|query)|workflow\.command|delivery\.submit|Too big|too_big|Invalid \S+ parameters/;

/**
 * What clients read when a write goes wrong: concurrent upserts of one key all succeed; a database refusal is a
 * Campaign fault with a correlation id, never PostgreSQL's text (constraint names, the failing row), which stays
 * in the service's log under that id; oversized parameters are refused by the gateway, naming the parameter,
 * before they travel; no fault names an internal RPC method or a validator's text.
 */
describe('write faults as clients see them', () => {
  let platform: TestPlatform;
  let dir: string;
  let admin: SdkClient;

  beforeAll(async () => {
    // Limits far above these tests' bursts: they are about write outcomes, not rate limiting.
    dir = mkdtempSync(join(tmpdir(), 'cap-write-faults-'));
    const limits = join(dir, 'limits.json');
    writeFileSync(limits, JSON.stringify({ default: { limit: 100_000 } }));
    // Every write in its own transaction (no group commit): the plain read-committed race of two upserts of one key.
    // 300 such writes of one row queue on its lock, 20 at a time: on a busy 2-core machine the last ones took longer
    // than the gateway's 3 s RPC deadline (a rare RPC_TIMEOUT fault with nothing refused by local-store). The test is
    // about the race's outcome, not latency, so the deadline is raised here.
    platform = await startTestPlatform({
      envFor: { 'api-gateway': { RATE_LIMITS_FILE: limits, RPC_TIMEOUT_MS: '20000' }, 'local-store': { WRITE_GROUP_MAX: '1', DB_POOL_MAX: '20' } },
    });
    admin = await sdkLogon(platform.gatewayUrl, 'admin', 'admin');
  });

  afterAll(async () => {
    await platform?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('when 300 writes upsert the same service by _key="@name" at once, then every one succeeds and one record exists', async () => {
    // Raw SOAP over HTTP: the SDK builds every call through a DOM, and 300 at once would saturate the test process.
    const send = (name: string, i: number) =>
      fetch(`${platform.gatewayUrl}/nl/jsp/soaprouter.jsp`, {
        method: 'POST',
        headers: { 'content-type': 'text/xml', SOAPAction: 'xtk:persist#Write', 'X-Security-Token': admin._securityToken },
        body: `<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/"><SOAP-ENV:Body><m:Write xmlns:m="urn:xtk:persist"><sessiontoken>${admin._sessionToken}</sessiontoken><domDoc><service xtkschema="nms:service" _key="@name" name="${name}" label="label ${i}"/></domDoc></m:Write></SOAP-ENV:Body></SOAP-ENV:Envelope>`,
      }).then((r) => r.text());
    const names = [uniqueId('race'), uniqueId('race'), uniqueId('race')];
    for (const name of names) {
      const answers = await Promise.all(Array.from({ length: 300 }, (_, i) => send(name, i)));
      // A fault shows with what local-store logged under its correlation id (PostgreSQL's own text, if any).
      const refusals = () => platform.procs.get('local-store')!.logs.filter((l) => l['event'] === 'rpc.handler.refused');
      const faults = answers
        .filter((a) => !a.includes('WriteResponse'))
        .map((a) => ({ fault: a.slice(0, 300), logged: refusals().find((l) => a.includes(String(l['correlationId'])))?.['detail'] }));
      expect(faults).toEqual([]);
    }
    const { rows } = await withDb(platform.localDb.url, (c) =>
      c.query('SELECT name, count(*)::int AS n FROM nms_service WHERE name = ANY($1) GROUP BY name ORDER BY name', [names]),
    );
    expect(rows).toEqual([...names].sort().map((name) => ({ name, n: 1 })));
  });

  it("when the database refuses a write, then the client reads a Campaign fault with a correlation id and local-store's log holds PostgreSQL's text under it", async () => {
    const name = uniqueId('dup');
    await admin.NLWS.xtkSession.write({ xtkschema: 'nms:service', name, label: 'first' });
    const err = await failure(admin.NLWS.xtkSession.write({ xtkschema: 'nms:service', name, label: 'second', _operation: 'insert' }));
    expect(err.errorCode).toBe('PGS-220000');
    expect(err.faultString).toMatch(/a record with the same key already exists \(correlation id [0-9a-f-]{36}\)/);
    expect(err.faultString).not.toMatch(/duplicate key|constraint|nms_service|Key \(|second/);
    const correlationId = /correlation id ([0-9a-f-]{36})/.exec(err.faultString)![1];
    const line = await waitFor('the refusal in the local-store log', () =>
      platform.procs.get('local-store')!.logs.find((l) => l['event'] === 'rpc.handler.refused' && l['correlationId'] === correlationId),
    );
    expect(String(line['detail'])).toMatch(/duplicate key/);
  });

  it('when parameters are larger than the services take, then the gateway refuses them naming the parameter, and no fault names an internal method', async () => {
    const subscribe = await failure(admin.NLWS.nmsSubscription.Subscribe('n'.repeat(5_000), { _key: '@email', email: 'a@example.com' }, true));
    expect(subscribe.errorCode).toBe('SOP-330008');
    expect(subscribe.faultString).toContain("'serviceName'");
    const replicate = await failure(admin.NLWS.nmsReplicationStrategy.StartReplicateStagingData('s'.repeat(500)));
    expect(replicate.errorCode).toBe('SOP-330008');
    const postEvent = await failure(admin.NLWS.xtkWorkflow.PostEvent('someWorkflow', 'a'.repeat(300), 'ok', { a: '1' }, false));
    expect(postEvent.errorCode).toBe('SOP-330008');
    // An option name no option can have is simply not found, as any unknown option.
    expect(await admin.getOption('o'.repeat(10_000), false)).toEqual(await admin.getOption(uniqueId('unknown'), false));
    for (const e of [subscribe, replicate, postEvent]) expect(e.faultString).not.toMatch(INTERNALS);
    const logon = await failure(
      sdk.init(sdk.ConnectionParameters.ofUserAndPassword(platform.gatewayUrl, 'admin', 'p'.repeat(2_000))).then((c: { logon(): Promise<void> }) => c.logon()),
    );
    expect(logon.errorCode).toBe('XSV-350001');
    expect(logon.faultString).not.toMatch(INTERNALS);
  });
});
