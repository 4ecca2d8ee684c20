/**
 * An open-loop, evenly paced HTTP/1.1 load generator for latency at a given rate (P1 (a)).
 *
 * Why not autocannon's `overallRate`: autocannon gives each connection a per-second quota that it sends as
 * fast as answers come, so the load arrives in a burst at the start of every second, and the latency it
 * measures is that of a saturated server for part of each second. Here request i is due at t0 + i / rate,
 * whatever happened to the earlier ones (open loop); a 1 ms timer sends every request that is due (so at
 * 5,000 req/s, ~5 per millisecond). Each request goes on an idle keep-alive connection, a new one is opened
 * when all are busy (up to `maxConnections`), so the client never queues a request behind a slow answer.
 * Latency is measured from writing the request to reading the whole answer (same as autocannon).
 *
 * Deliberately minimal HTTP: prebuilt request bytes, answers framed by Content-Length (Express always sets
 * it for these answers); anything else counts as an error.
 */
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';

export interface PacedOptions {
  host: string;
  port: number;
  /** The full request (request line, headers, body), sent as is. */
  request: Buffer;
  rate: number;
  durationMs: number;
  /** Connections opened before the clock starts. */
  warmConnections?: number;
  maxConnections?: number;
  /** Checks an answer body (e.g. that it is not a SOAP fault); failures are counted, not thrown. */
  verifyBody?: (body: string) => boolean;
}

export interface PacedResult {
  scheduled: number;
  completed: number;
  /** Sorted ascending, ms. */
  latencies: Float64Array;
  non200: number;
  badBodies: number;
  errors: number;
  /** Requests that found no idle connection and waited for one (should be 0: then latencies are the server's). */
  queued: number;
  /** Requests sent more than 2 ms after their due time (timer or event-loop lateness of the generator). */
  lateSends: number;
  connectionsOpened: number;
  maxInFlight: number;
  achievedRate: number;
}

interface Conn {
  socket: Socket;
  ready: boolean;
  busy: boolean;
  sentAt: number;
  chunks: Buffer[];
  length: number;
}

const HEADER_END = Buffer.from('\r\n\r\n');

export async function runPaced(options: PacedOptions): Promise<PacedResult> {
  const maxConnections = options.maxConnections ?? 256;
  const verify = options.verifyBody;
  const conns: Conn[] = [];
  const idle: Conn[] = [];
  const waiting: number[] = [];
  const latencies: number[] = [];
  let non200 = 0;
  let badBodies = 0;
  let errors = 0;
  let queued = 0;
  let lateSends = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  let completed = 0;
  let live = 0;

  const send = (conn: Conn) => {
    conn.busy = true;
    conn.chunks = [];
    conn.length = 0;
    inFlight += 1;
    if (inFlight > maxInFlight) maxInFlight = inFlight;
    conn.sentAt = performance.now();
    conn.socket.write(options.request);
  };

  const release = (conn: Conn) => {
    conn.busy = false;
    inFlight -= 1;
    if (waiting.length > 0) {
      waiting.shift();
      send(conn);
    } else {
      idle.push(conn);
    }
  };

  const onData = (conn: Conn, chunk: Buffer) => {
    conn.chunks.push(chunk);
    conn.length += chunk.length;
    const data = conn.chunks.length === 1 ? chunk : Buffer.concat(conn.chunks, conn.length);
    conn.chunks = [data];
    const headerEnd = data.indexOf(HEADER_END);
    if (headerEnd < 0) return;
    const head = data.subarray(0, headerEnd).toString('latin1');
    const m = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    if (!m) {
      errors += 1;
      conn.socket.destroy();
      return;
    }
    const total = headerEnd + 4 + Number(m[1]);
    if (data.length < total) return;
    const latency = performance.now() - conn.sentAt;
    latencies.push(latency);
    completed += 1;
    if (!head.startsWith('HTTP/1.1 200')) non200 += 1;
    else if (verify && !verify(data.subarray(headerEnd + 4, total).toString('utf8'))) badBodies += 1;
    release(conn);
  };

  const open = (): Promise<Conn> =>
    new Promise((resolve) => {
      const socket = connect({ host: options.host, port: options.port, noDelay: true });
      const conn: Conn = { socket, ready: false, busy: false, sentAt: 0, chunks: [], length: 0 };
      conns.push(conn);
      live += 1;
      socket.on('connect', () => {
        conn.ready = true;
        resolve(conn);
      });
      socket.on('data', (chunk: Buffer) => onData(conn, chunk));
      socket.on('error', () => undefined);
      socket.on('close', () => {
        live -= 1;
        const at = idle.indexOf(conn);
        if (at >= 0) idle.splice(at, 1);
        if (conn.busy) {
          errors += 1;
          inFlight -= 1;
        }
        conn.busy = false;
        conn.ready = false;
        resolve(conn); // no-op once connected; a connection that never connected resolves not ready
      });
    });

  const warm = await Promise.all(Array.from({ length: options.warmConnections ?? 16 }, open));
  idle.push(...warm.filter((c) => c.ready));

  const interval = 1000 / options.rate;
  const total = Math.floor((options.durationMs / 1000) * options.rate);
  let next = 0;
  const t0 = performance.now();

  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now();
      while (next < total && t0 + next * interval <= now) {
        if (now - (t0 + next * interval) > 2) lateSends += 1;
        next += 1;
        // Most recently used first: the connections that stay idle longest are the ones the server may close.
        const conn = idle.pop();
        if (conn) {
          send(conn);
        } else if (live < maxConnections) {
          // All connections busy: a new one (its connect time is not counted in the latency).
          void open().then((c) => (c.ready ? send(c) : (errors += 1)));
        } else {
          queued += 1;
          waiting.push(now);
        }
      }
      if (next >= total) resolve();
      else setTimeout(tick, 1);
    };
    tick();
  });
  const sendingMs = performance.now() - t0;
  // Let the last answers arrive (bounded).
  const drainUntil = performance.now() + 5_000;
  while ((inFlight > 0 || waiting.length > 0) && performance.now() < drainUntil) await new Promise((r) => setTimeout(r, 5));
  for (const c of conns) c.socket.destroy();

  return {
    scheduled: total,
    completed,
    latencies: Float64Array.from(latencies).sort(),
    non200,
    badBodies,
    errors,
    queued,
    lateSends,
    connectionsOpened: conns.length,
    maxInFlight,
    achievedRate: completed / (sendingMs / 1000),
  };
}
