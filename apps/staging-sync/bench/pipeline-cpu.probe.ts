/**
 * Where the CPU of a unitary call goes, process by process (a diagnosis, not a benchmark: `npm run bench` does
 * not run it). `npx tsx apps/staging-sync/bench/pipeline-cpu.probe.ts [Ingest|GetOption] [--connections 20]
 * [--seconds 10] [--env NAME=value …]` after `node infra/scripts/build-app.mjs all`. `PushEvent`: one
 * nms:rtEvent#PushEvent per call with the Message Center `mc/mc` token (the message center sends each event meanwhile).
 *
 * Starts the four services on the real infrastructure (own databases and topic prefix), logs on, warms up, then
 * saturates the gateway with one xtk:session method (autocannon, closed loop) and reads the CPU time of every
 * process from /proc/<pid>/stat before and after: the four services, the Kafka broker (JVM), every PostgreSQL
 * process and Redis. Prints calls/s, latency, and per process the share of one core and the CPU time per call.
 * The asynchronous tail (relay, staging-sync, acknowledgements) gets 1.5 s after the load stops to be counted.
 * Each process's idle consumption (5 s with no calls: pollers, heartbeats, timers) is shown beside it.
 */
import { execSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { startTestPlatform, type AppName } from '@cap/platform-testing';
// eslint-disable-next-line @nx/enforce-module-boundaries
import { measureSaturation } from '../../api-gateway/bench/autocannon.saturation';
// eslint-disable-next-line @nx/enforce-module-boundaries
import { ENVELOPE_OPEN, logOn } from '../../api-gateway/bench/soap.logon';

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    connections: { type: 'string', default: '20' },
    seconds: { type: 'string', default: '10' },
    // Which services run (api-gateway and local-store are needed; leave out staging-sync to see the write path alone).
    apps: { type: 'string', default: 'local-store,cloud-executor,staging-sync,api-gateway' },
    // Extra settings for every service, to compare (e.g. --env WRITE_GROUP_MAX=1); repeatable.
    env: { type: 'string', multiple: true, default: [] },
  },
});
const METHOD = positionals[0] === 'GetOption' || positionals[0] === 'PushEvent' ? positionals[0] : 'Ingest';
/** The method's SOAP namespace and action. */
const SCHEMA = METHOD === 'PushEvent' ? 'nms:rtEvent' : 'xtk:session';
const CLOCK_TICKS = 100;

/** CPU seconds (user + system) a process has used so far; 0 once it is gone. */
function cpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return 0;
  }
}
const pidsOf = (pattern: string) => execSync(`pgrep -f ${pattern} || true`).toString().split('\n').filter(Boolean).map(Number);

async function main(): Promise<void> {
  const limits = join(mkdtempSync(join(tmpdir(), 'cap-probe-')), 'limits.json');
  writeFileSync(limits, JSON.stringify({ windowMs: 1000, default: { limit: 100 }, apis: { [`${SCHEMA}#${METHOD}`]: { limit: 100_000 } } }));
  const platform = await startTestPlatform({
    apps: args.apps!.split(',') as AppName[],
    env: {
      NODE_ENV: 'production',
      LOG_LEVEL: 'warn',
      ...Object.fromEntries(args.env!.map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)])),
    },
    envFor: { 'api-gateway': { RATE_LIMITS_FILE: limits } },
  });
  try {
    const tokens = await logOn(platform.gatewayUrl);
    const param =
      METHOD === 'Ingest'
        ? '<domDoc xsi:type="" SOAP-ENV:encodingStyle="http://xml.apache.org/xml-soap/literalxml"><recipientStg xtkschema="nms:recipientStg" email="load@example.com" firstName="Load" lastName="Test"/></domDoc>'
        : METHOD === 'PushEvent'
          ? '<domEvent xsi:type="" SOAP-ENV:encodingStyle="http://xml.apache.org/xml-soap/literalxml"><rtEvent type="probe" email="load@example.com"><ctx><firstName>Load</firstName></ctx></rtEvent></domEvent>'
          : '<strName xsi:type="xsd:string">XtkDatabaseId</strName>';
    // PushEvent: the Message Center's "login/password" session token, as its clients send it.
    const session = METHOD === 'PushEvent' ? 'mc/mc' : tokens.session;
    const body =
      `${ENVELOPE_OPEN}<SOAP-ENV:Header><Cookie>__sessiontoken=${session}</Cookie><X-Security-Token>${METHOD === 'PushEvent' ? '' : tokens.security}</X-Security-Token></SOAP-ENV:Header>` +
      `<SOAP-ENV:Body><m:${METHOD} xmlns:m="urn:${SCHEMA}"><sessiontoken xsi:type="xsd:string">${session}</sessiontoken>${param}</m:${METHOD}></SOAP-ENV:Body></SOAP-ENV:Envelope>`;
    const load = {
      url: platform.gatewayUrl,
      path: '/nl/jsp/soaprouter.jsp',
      connections: Number(args.connections),
      headers: {
        'Content-Type': 'text/xml; charset=utf-8',
        SOAPAction: `${SCHEMA}#${METHOD}`,
        ...(METHOD === 'PushEvent' ? {} : { 'X-Security-Token': tokens.security, Cookie: `__sessiontoken=${tokens.session}` }),
      },
      body,
      verifyBody: (answer: string) => !answer.includes('SOAP-ENV:Fault'),
    };
    await measureSaturation({ ...load, seconds: 4 }); // warm-up
    await sleep(3_000);
    const groups = new Map<string, number[]>([...platform.procs].map(([name, proc]) => [name, [proc.pid]]));
    groups.set('kafka (JVM)', pidsOf('kafka.Kafka'));
    groups.set('postgresql', pidsOf('postgres'));
    groups.set('redis', pidsOf('redis-server'));
    const used = (pids: number[]) => pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
    // Idle first: what each process burns with no calls at all (pollers, heartbeats, timers).
    const idleFrom = new Map([...groups].map(([name, pids]) => [name, used(pids)]));
    await sleep(5_000);
    const idle = new Map([...groups].map(([name, pids]) => [name, (used(pids) - idleFrom.get(name)!) / 5]));
    const before = new Map([...groups].map(([name, pids]) => [name, used(pids)]));
    const started = Date.now();
    const result = await measureSaturation({ ...load, seconds: Number(args.seconds) });
    await sleep(1_500);
    const seconds = (Date.now() - started) / 1000;
    const lines = [
      `${METHOD}, ${args.connections} connections: ${result.rps.toFixed(0)} calls/s, p50 ${result.p50} ms, p99 ${result.p99} ms, errors ${result.errors + result.non2xx + result.mismatches}`,
    ];
    let total = 0;
    for (const [name, pids] of groups) {
      const cpu = used(pids) - before.get(name)!;
      total += cpu;
      lines.push(
        `${name.padEnd(15)} ${((cpu / seconds) * 100).toFixed(0).padStart(4)} % of a core (idle ${(idle.get(name)! * 100).toFixed(0).padStart(2)} %)  ${((cpu / result.total) * 1000).toFixed(3)} ms per call`,
      );
    }
    lines.push(
      `${'total'.padEnd(15)} ${((total / seconds) * 100).toFixed(0).padStart(4)} %          ${((total / result.total) * 1000).toFixed(3)} ms per call`,
    );
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    await platform.stop();
  }
}

void main();
