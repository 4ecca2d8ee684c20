#!/usr/bin/env node
// What kind of machine a benchmark ran on, in the two currencies the platform spends (docs/benchmarks.md,
// "2026-12-07: why the staging figures differ between machines"): plain JavaScript work, and round trips between
// two processes over loopback TCP — every Kafka produce and fetch, PostgreSQL statement and RPC reply is one. Two
// machines of the same core count can differ several-fold in the second while matching in the first (a
// virtual machine whose system calls and cross-process wake-ups are dear), and the pipeline's figures follow
// the second. `node infra/scripts/machine-probe.mjs` prints both; `npm run bench -- --quick` prints them above
// its table.
import { spawn } from 'node:child_process';
import { connect } from 'node:net';

const ECHO_SERVER = `
const server = require('node:net').createServer((s) => { s.setNoDelay(true); s.on('data', (d) => s.write(d)); });
server.listen(0, '127.0.0.1', () => process.stdout.write(server.address().port + '\\n'));
process.on('message', () => { const u = process.cpuUsage(); process.send(u.user + u.system, () => process.exit(0)); });
`;

/** Plain JavaScript: serialising and parsing a small document, per second (one core). */
function computeRate(seconds = 1) {
  const doc = { id: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', email: 'probe@example.com', seq: 123456789, fields: ['@email', '@firstName'] };
  let n = 0;
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end) {
    for (let i = 0; i < 1000; i++) JSON.parse(JSON.stringify(doc));
    n += 1000;
  }
  return n / seconds;
}

/** Round trips of 64 bytes between this process and a child over loopback TCP: per second, and CPU per round trip (both sides). */
async function roundTrips(count = 20_000) {
  const child = spawn(process.execPath, ['-e', ECHO_SERVER], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
  const port = await new Promise((resolve, reject) => {
    child.stdout.once('data', (d) => resolve(Number(String(d).trim())));
    child.once('error', reject);
  });
  const socket = connect(port, '127.0.0.1');
  socket.setNoDelay(true);
  await new Promise((resolve) => socket.once('connect', resolve));
  const payload = Buffer.alloc(64, 1);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await new Promise((resolve) => {
    let done = 0;
    let pending = 0;
    socket.on('data', (d) => {
      pending -= d.length;
      if (pending > 0) return;
      if (++done === count) return resolve();
      pending = payload.length;
      socket.write(payload);
    });
    pending = payload.length;
    socket.write(payload);
  });
  const seconds = (performance.now() - t0) / 1000;
  const own = process.cpuUsage(cpu0);
  const childMicros = await new Promise((resolve) => {
    child.once('message', resolve);
    child.send('cpu');
  });
  socket.destroy();
  return { perSecond: count / seconds, cpuMicrosPerRoundTrip: (own.user + own.system + Number(childMicros)) / count };
}

export async function probeMachine() {
  const compute = computeRate();
  const rt = await roundTrips();
  return {
    computeOpsPerSec: Math.round(compute),
    roundTripsPerSec: Math.round(rt.perSecond),
    cpuMicrosPerRoundTrip: Math.round(rt.cpuMicrosPerRoundTrip * 10) / 10,
  };
}

export const machineLine = (m) =>
  `machine probe: ${m.computeOpsPerSec.toLocaleString('en')} JSON round trips/s of plain JavaScript on one core; ` +
  `${m.roundTripsPerSec.toLocaleString('en')} loopback TCP round trips/s between two processes, ${m.cpuMicrosPerRoundTrip} µs of CPU each`;

if (import.meta.url === `file://${process.argv[1]}`) {
  const m = await probeMachine();
  process.stdout.write(`${machineLine(m)}\n`);
}
