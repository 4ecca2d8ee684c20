import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestPlatform, type TestPlatform } from '@cap/platform-testing';
// The load-test tool lives in tools/, which is neither an Nx project nor matched by the jest projects, so it is
// tested from here by relative path (the module-boundary rule only knows projects and @cap/* aliases).
// eslint-disable-next-line @nx/enforce-module-boundaries -- tools/loadtest is a script, not a library
import { main, type LoadTestOutcome } from '../../../tools/loadtest/loadtest';
// eslint-disable-next-line @nx/enforce-module-boundaries -- as above
import type { LoadTestResult } from '../../../tools/loadtest/loadtest.result';

interface Run {
  outcome: LoadTestOutcome;
  stdout: string;
  stderr: string;
}

async function runTool(args: string[]): Promise<Run> {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const outcome = await main(args, { stdout: (t) => stdout.push(t), stderr: (t) => stderr.push(t) });
  return { outcome, stdout: stdout.join(''), stderr: stderr.join('') };
}

const sumOf = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);

/** The HTML and JSON reports exist, the JSON holds the per-second series, the HTML draws it with no external asset. */
function expectReports(run: Run, seconds: number): LoadTestResult {
  const { files } = run.outcome;
  expect(files).toBeDefined();
  expect(existsSync(files!.html)).toBe(true);
  expect(existsSync(files!.json)).toBe(true);
  const json = JSON.parse(readFileSync(files!.json, 'utf8')) as LoadTestResult;
  expect(json.series).toHaveLength(seconds);
  expect(json.series.map((s) => s.second)).toEqual([...Array(seconds).keys()]);
  expect(json.series.reduce((n, s) => n + s.responses, 0)).toBe(json.totals.responses);
  for (const s of json.series) {
    expect(s.responses).toBeGreaterThan(0);
    expect(s.latency.p99).toBeGreaterThanOrEqual(s.latency.p50);
  }
  const html = readFileSync(files!.html, 'utf8');
  expect(html).toContain('<svg');
  expect(html.match(/<polyline /g)).toHaveLength(2); // p50 and p99 over time
  expect(html).toMatch(/<rect [^>]*class="throttled"/); // 429s drawn in the outcome chart
  // One link out, not an asset: the target gateway's reporting summary.
  const reporting = `<a href="${json.meta.url.replace(/\/+$/, '')}/nl/jsp/reporting.jsp">`;
  expect(html).toContain(reporting);
  expect(html.replace(reporting, '')).not.toMatch(/<script|<link|src=|url\(|href="http/);
  expect(run.stdout).toContain(files!.html);
  return json;
}

describe('the load-test tool (tools/loadtest) against the platform', () => {
  let platform: TestPlatform;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cap-loadtest-'));
    const limits = join(dir, 'rate-limits.json');
    // Low limits for the two APIs under test, so that the runs below go over them; others far above.
    writeFileSync(
      limits,
      JSON.stringify({ windowMs: 1000, default: { limit: 1000 }, apis: { 'xtk:queryDef#ExecuteQuery': { limit: 20 }, 'xtk:session#Logon': { limit: 5 } } }),
    );
    platform = await startTestPlatform({ envFor: { 'api-gateway': { RATE_LIMITS_FILE: limits } } });
  });

  afterAll(async () => {
    await platform?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('when the query scenario runs at 50 req/s against a limit of 20/s, then the report counts 2xx answers and 429s, nothing else, second by second', async () => {
    const run = await runTool(['--scenario', 'query', '--rate', '50', '--duration', '3', '--connections', '5', '--url', platform.gatewayUrl, '--out', dir]);

    expect(run.outcome.exitCode).toBe(0);
    const { totals } = run.outcome.result!;
    expect(totals.ok).toBeGreaterThan(0);
    expect(totals.tooMany).toBeGreaterThan(0);
    // The limiter admits at most 20 per sliding second: 3 s of load cannot see more than ~4 windows' worth.
    expect(totals.ok).toBeLessThanOrEqual(80);
    expect(totals.faults).toEqual({});
    expect(totals.otherStatus).toEqual({});
    expect(totals.errors).toBe(0);
    expect(totals.ok + totals.tooMany).toBe(totals.responses);
    expect(totals.responses).toBeGreaterThanOrEqual(140); // 150 asked
    expect(totals.latency.p50).toBeGreaterThan(0);
    const json = expectReports(run, 3);
    expect(json.totals.tooMany).toBe(totals.tooMany);
    expect(json.notes.join('\n')).toContain('"xtk:queryDef#ExecuteQuery";q=20;w=1');
    expect(run.stdout).toMatch(/429 Too Many Requests\s+\d+/);
    expect(run.stderr).toMatch(/\[\s+1s\]\s+\d+ req\/s \| so far p50 [\d.]+ ms {2}p99 [\d.]+ ms \| 2xx \d+ {2}429 \d+/);
  });

  it('when the logon scenario runs at 20 req/s against a Logon limit of 5/s, then some logons succeed and the rest are 429s, with no faults or errors', async () => {
    const run = await runTool(['--scenario', 'logon', '--rate', '20', '--duration', '3', '--connections', '10', '--url', platform.gatewayUrl, '--out', dir]);

    expect(run.outcome.exitCode).toBe(0);
    const { totals } = run.outcome.result!;
    expect(totals.ok).toBeGreaterThan(0);
    expect(totals.tooMany).toBeGreaterThan(0);
    expect(totals.ok).toBeLessThanOrEqual(25);
    expect(sumOf(totals.faults) + sumOf(totals.otherStatus) + totals.errors).toBe(0);
    expectReports(run, 3);
  });

  it('when the password is wrong, then the set-up logon fails with the fault, exit code 1, and no load is sent', async () => {
    const run = await runTool([
      '--scenario',
      'query',
      '--rate',
      '10',
      '--duration',
      '1',
      '--connections',
      '1',
      '--url',
      platform.gatewayUrl,
      '--password',
      'wrong',
      '--out',
      dir,
    ]);

    expect(run.outcome.exitCode).toBe(1);
    expect(run.stderr).toContain('XSV-350001');
    expect(run.outcome.result).toBeUndefined();
  });
});

describe('the load-test tool against a server that does not implement the method', () => {
  let server: Server;
  let url: string;
  let dir: string;
  const LOGON =
    "<SOAP-ENV:Envelope xmlns:xsi='http://www.w3.org/2001/XMLSchema-instance' xmlns:SOAP-ENV='http://schemas.xmlsoap.org/soap/envelope/'><SOAP-ENV:Body><LogonResponse xmlns='urn:xtk:session'>" +
    "<pstrSessionToken xsi:type='xsd:string'>___S1</pstrSessionToken><pSessionInfo xsi:type='ns:Element'><sessionInfo/></pSessionInfo><pstrSecurityToken xsi:type='xsd:string'>@T1==</pstrSecurityToken></LogonResponse></SOAP-ENV:Body></SOAP-ENV:Envelope>";
  const NOT_DEFINED =
    "<SOAP-ENV:Envelope xmlns:SOAP-ENV='http://schemas.xmlsoap.org/soap/envelope/'><SOAP-ENV:Body><SOAP-ENV:Fault><faultcode>SOAP-ENV:Client</faultcode>" +
    "<faultstring xsi:type='xsd:string'>SOP-330006 Method 'PushEvent' of service 'nms:rtEvent' is not defined.</faultstring></SOAP-ENV:Fault></SOAP-ENV:Body></SOAP-ENV:Envelope>";
  const seen: { action: string; sessionHeader: string; cookie: string; body: string }[] = [];
  let received = 0;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cap-loadtest-'));
    // A stand-in Campaign server: Logon works, every other method is SOP-330006 (as before PushEvent existed).
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        received += 1;
        const action = String(req.headers['soapaction'] ?? '');
        if (seen.length < 50)
          seen.push({ action, sessionHeader: String(req.headers['x-session-token'] ?? ''), cookie: String(req.headers['cookie'] ?? ''), body });
        res.writeHead(200, { 'content-type': 'text/xml' }).end(action === 'xtk:session#Logon' ? LOGON : NOT_DEFINED);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => server?.close(resolve));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('when pushEvent answers SOP-330006, then the run completes and reports the faults by code with a note, and each event was unique and carried the session', async () => {
    const run = await runTool(['--scenario', 'pushEvent', '--rate', '40', '--duration', '2', '--connections', '4', '--url', url, '--out', dir]);

    expect(run.outcome.exitCode).toBe(0);
    const { totals, notes } = run.outcome.result!;
    expect(totals.ok).toBe(0);
    expect(totals.faults).toEqual({ 'SOP-330006': totals.responses });
    expect(totals.responses).toBeGreaterThanOrEqual(70);
    expect(notes.join('\n')).toContain('nms:rtEvent#PushEvent answered SOP-330006 (method not defined)');
    expect(run.stdout).toMatch(/SOP-330006\s+\d+\s+method not defined/);

    const events = seen.filter((s) => s.action === 'nms:rtEvent#PushEvent');
    expect(events.length).toBeGreaterThan(10);
    for (const e of events) {
      expect(e.sessionHeader).toBe('___S1');
      expect(e.cookie).toBe('__sessiontoken=___S1');
      expect(e.body).toMatch(
        /<m:PushEvent xmlns:m="urn:nms:rtEvent"[^>]*><sessiontoken xsi:type="xsd:string">___S1<\/sessiontoken><domEvent [^>]*><rtEvent type="loadtest" email="/,
      );
    }
    const emails = events.map((e) => /email="([^"]+)"/.exec(e.body)?.[1]);
    expect(new Set(emails).size).toBe(events.length);
  });

  it('when the flags are bad, then every bad flag is named, exit code 2, and nothing is sent', async () => {
    const before = received;
    const run = await runTool(['--scenario', 'nope', '--rate', '200000', '--duration', '4000', '--connections', '0', '--url', 'ftp://example.com']);

    expect(run.outcome.exitCode).toBe(2);
    for (const flag of [
      '--scenario must be one of',
      '--rate must be at most 100,000',
      '--duration must be at most 3,600',
      '--connections must be at least 1',
      '--url must use http or https',
    ]) {
      expect(run.stderr).toContain(flag);
    }
    expect(received).toBe(before);
  });
});
