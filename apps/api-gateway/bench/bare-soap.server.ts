/**
 * P1's baseline: a bare Express 5 app with one handler that answers a canned xtk:session#GetServerTime SOAP
 * response, with the same HTTP server settings as the gateway (node:http, keep-alive 5 s). No body parsing,
 * no auth, no rate limit. Run as its own process by gateway-overhead.bench.ts
 * (`node --import tsx apps/api-gateway/bench/bare-soap.server.ts`); prints `{"port":…}` once listening.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';

const envelope = (time: string) =>
  "<?xml version='1.0'?><SOAP-ENV:Envelope xmlns:xsd='http://www.w3.org/2001/XMLSchema' xmlns:xsi='http://www.w3.org/2001/XMLSchema-instance' xmlns:ns='urn:wpp:default' xmlns:SOAP-ENV='http://schemas.xmlsoap.org/soap/envelope/'>" +
  "<SOAP-ENV:Body><GetServerTimeResponse xmlns='urn:xtk:session' SOAP-ENV:encodingStyle='http://schemas.xmlsoap.org/soap/encoding/'>" +
  `<ptmServerTime xsi:type='xsd:dateTime'>${time}</ptmServerTime></GetServerTimeResponse></SOAP-ENV:Body></SOAP-ENV:Envelope>`;

// Canned: the same bytes every time (the gateway's answer differs only by the timestamp).
const CANNED = envelope('2026-01-01T00:00:00.000Z');

const app = express();
app.disable('x-powered-by');
app.post('/nl/jsp/soaprouter.jsp', (_req, res) => {
  res.status(200).type('text/xml;charset=utf-8').send(CANNED);
});

const server = createServer(app);
server.keepAliveTimeout = 5_000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
});
process.on('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
