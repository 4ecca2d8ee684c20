/**
 * Where the gateway's time goes on P1's call (not a benchmark: a diagnosis; `npm run bench` does not run it).
 * `npx tsx apps/api-gateway/bench/gateway-profile.ts [--seconds 10] [--out reports/bench/profile]`
 *
 * Runs the bare Express server and the gateway bundle under `node --cpu-prof` (the flag is refused in
 * NODE_OPTIONS, and startServiceProcess takes no Node flags, so the gateway is spawned here with the
 * environment startTestPlatform would give it; local-store and cloud-executor come from startTestPlatform),
 * saturates each with authenticated GetServerTime calls (autocannon, 20 connections), stops them (the
 * profile is written at exit), then prints the CPU time per request of each by category, side by side.
 * Samples of start-up (module loading, schema compilation) and idle samples are left out. The sampling
 * profiler itself costs some CPU: read the shares, not the absolute figures.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { freePort, startTestPlatform, TEST_SECRETS_KEYS, testEndpoints, waitFor } from '@cap/platform-testing';
import { measureSaturation } from './autocannon.saturation';

const ROOT = join(__dirname, '..', '..', '..');
const SOAP_PATH = '/nl/jsp/soaprouter.jsp?soapAction=xtk%3Asession%23GetServerTime';
const { values: args } = parseArgs({ options: { seconds: { type: 'string', default: '10' }, out: { type: 'string', default: 'reports/bench/profile' } } });
const SECONDS = Math.max(3, Number(args.seconds));
const OUT = resolve(ROOT, args.out!);

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const STARTUP = new Set(['compileSchemas', 'loadSchemaRegistry', 'parseSrcSchema', 'runMain', 'wrapSafe']);

/** The category of one sample, from its leaf frame (and, for socket writes, whether Redis is on the stack). */
function categoryOf(stack: ProfileNode['callFrame'][]): string {
  const leaf = stack[0]!;
  const fn = leaf.functionName;
  const url = leaf.url;
  if (fn === '(garbage collector)') return 'garbage collection';
  if (['writev', 'writeBuffer', 'writeUtf8String', 'writeLatin1String'].includes(fn)) {
    return stack.some((f) => f.url.includes('@redis/client')) ? 'socket writes: Redis commands' : 'socket writes: HTTP answers';
  }
  if (url.includes('saxes')) return 'XML parser (saxes)';
  if (url.includes('@redis/client')) return 'Redis client (JS)';
  if (url.includes('kafkajs')) return 'kafkajs (idle consumers)';
  if (/body-parser|raw-body|iconv|content-type|type-is/.test(url)) return 'request body read (express.text)';
  if (/node_modules\/(router|express|parseurl|path-to-regexp|etag|mime|fresh|send|finalhandler)/.test(url)) return 'Express + router';
  if (url.includes('dist/apps')) return 'gateway code (SOAP parse, auth, limiter, answer)';
  if (url.includes('crypto')) return 'crypto (ETag sha1, token sha256)';
  if (url.includes('async_hooks')) return 'async_hooks';
  if (/_http|streams|stream_base|node:net/.test(url)) return 'node http + streams';
  if (fn === '(program)') return 'V8 / native (program)';
  return 'node other (events, timers, promises)';
}

function categorize(file: string, requests: number): Map<string, number> {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const perRequestUs = new Map<string, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const stack: ProfileNode['callFrame'][] = [];
    for (let id: number | undefined = profile.samples[i]; id !== undefined; id = parent.get(id)) stack.push(byId.get(id)!.callFrame);
    if (stack[0]!.functionName === '(idle)') continue;
    if (stack.some((f) => STARTUP.has(f.functionName) || f.url.includes('internal/modules'))) continue;
    const category = categoryOf(stack);
    perRequestUs.set(category, (perRequestUs.get(category) ?? 0) + (profile.timeDeltas[i] ?? 0) / requests);
  }
  return perRequestUs;
}

function stopped(child: ChildProcess): Promise<void> {
  return new Promise((done) => {
    if (child.exitCode !== null) return done();
    child.once('exit', () => done());
    child.kill('SIGTERM');
  });
}

const profileFile = (dir: string) =>
  join(
    dir,
    readdirSync(dir)
      .filter((f) => f.endsWith('.cpuprofile'))
      .sort()[0]!,
  );

async function main(): Promise<void> {
  rmSync(OUT, { recursive: true, force: true });
  const [bareDir, gatewayDir] = [join(OUT, 'bare'), join(OUT, 'gateway')];
  mkdirSync(bareDir, { recursive: true });
  mkdirSync(gatewayDir, { recursive: true });
  const limitsFile = join(OUT, 'rate-limits.json');
  writeFileSync(limitsFile, JSON.stringify({ windowMs: 1000, default: { limit: 100 }, apis: { 'xtk:session#GetServerTime': { limit: 100_000 } } }));

  const platform = await startTestPlatform({ apps: ['local-store', 'cloud-executor'], env: { NODE_ENV: 'production' } });
  const children: ChildProcess[] = [];
  try {
    const endpoints = testEndpoints();
    const port = await freePort();
    const gateway = spawn(
      process.execPath,
      ['--cpu-prof', `--cpu-prof-dir=${gatewayDir}`, '--enable-source-maps', join(ROOT, 'dist', 'apps', 'api-gateway', 'main.js')],
      {
        cwd: ROOT,
        env: {
          NODE_ENV: 'production',
          HTTP_HOST: '127.0.0.1',
          HTTP_PORT: String(port),
          LOG_LEVEL: 'warn',
          KAFKA_BROKERS: endpoints.kafkaBrokers.join(','),
          KAFKA_TOPIC_PREFIX: platform.topicPrefix,
          REDIS_URL: endpoints.redisUrl,
          REDIS_KEY_PREFIX: platform.topicPrefix,
          RATE_LIMITS_FILE: limitsFile,
          SECRETS_KEYS: TEST_SECRETS_KEYS,
        },
        stdio: ['ignore', 'ignore', 'inherit'],
      },
    );
    children.push(gateway);
    const gatewayUrl = `http://127.0.0.1:${port}`;
    await waitFor('the gateway to be ready', async () => (await fetch(`${gatewayUrl}/readyz`).catch(() => undefined))?.status === 200, {
      timeoutMs: 60_000,
      intervalMs: 200,
    });

    const bare = spawn(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${bareDir}`, '--import', 'tsx', join(__dirname, 'bare-soap.server.ts')], {
      cwd: ROOT,
      env: { NODE_ENV: 'production' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    children.push(bare);
    const barePort = await new Promise<number>((ok) => {
      let out = '';
      bare.stdout!.on('data', (c: Buffer) => {
        out += c.toString();
        const m = /"port":(\d+)/.exec(out);
        if (m) ok(Number(m[1]));
      });
    });

    const logon = await (
      await fetch(`${gatewayUrl}/nl/jsp/soaprouter.jsp`, {
        method: 'POST',
        headers: { 'Content-Type': 'text/xml', SOAPAction: 'xtk:session#Logon' },
        body: '<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/"><SOAP-ENV:Body><m:Logon xmlns:m="urn:xtk:session"><sessiontoken/><login>admin</login><password>admin</password></m:Logon></SOAP-ENV:Body></SOAP-ENV:Envelope>',
      })
    ).text();
    const [session, security] = [...logon.matchAll(/xsi:type='xsd:string'>([^<]*)</g)].map((m) => m[1]!);
    const headers = {
      'Content-Type': 'text/xml; charset=utf-8',
      SOAPAction: 'xtk:session#GetServerTime',
      'X-Session-Token': session!,
      'X-Security-Token': security!,
      Cookie: `__sessiontoken=${session}`,
    };
    const body =
      '<SOAP-ENV:Envelope xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/">' +
      `<SOAP-ENV:Header><Cookie>__sessiontoken=${session}</Cookie><X-Security-Token>${security}</X-Security-Token></SOAP-ENV:Header><SOAP-ENV:Body>` +
      `<m:GetServerTime xmlns:m="urn:xtk:session"><sessiontoken xsi:type="xsd:string">${session}</sessiontoken></m:GetServerTime></SOAP-ENV:Body></SOAP-ENV:Envelope>`;
    const verifyBody = (b: string) => b.includes('<GetServerTimeResponse');

    const run = (url: string) => measureSaturation({ url, path: SOAP_PATH, connections: 20, seconds: SECONDS, headers, body, verifyBody });
    const bareRun = await run(`http://127.0.0.1:${barePort}`);
    const gatewayRun = await run(gatewayUrl);
    if (gatewayRun.mismatches > 0 || gatewayRun.non2xx > 0) throw new Error(`the gateway did not answer every call: ${JSON.stringify(gatewayRun)}`);
    await Promise.all(children.map(stopped));

    const b = categorize(profileFile(bareDir), bareRun.total);
    const g = categorize(profileFile(gatewayDir), gatewayRun.total);
    const rows = [...new Set([...b.keys(), ...g.keys()])]
      .map((k) => ({ k, bare: b.get(k) ?? 0, gateway: g.get(k) ?? 0 }))
      .sort((x, y) => y.gateway - y.bare - (x.gateway - x.bare));
    const total = (m: Map<string, number>) => [...m.values()].reduce((s, v) => s + v, 0);
    const lines = [
      `CPU time per request under --cpu-prof (µs), ${SECONDS} s of saturation each: bare ${bareRun.rps.toFixed(0)} req/s, gateway ${gatewayRun.rps.toFixed(0)} req/s`,
      '',
      '| category | bare Express | gateway | added |',
      '|---|---:|---:|---:|',
      ...rows
        .filter((r) => r.bare + r.gateway >= 1)
        .map((r) => `| ${r.k} | ${r.bare.toFixed(0)} | ${r.gateway.toFixed(0)} | ${(r.gateway - r.bare).toFixed(0)} |`),
      `| **total** | **${total(b).toFixed(0)}** | **${total(g).toFixed(0)}** | **${(total(g) - total(b)).toFixed(0)}** |`,
    ];
    process.stdout.write(`${lines.join('\n')}\n\nprofiles (open in Chrome DevTools): ${bareDir}, ${gatewayDir}\n`);
  } finally {
    await Promise.all(children.map(stopped));
    await platform.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
