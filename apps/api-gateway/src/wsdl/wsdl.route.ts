import { Router, type Request } from 'express';
import type { Schema } from '@cap/campaign-schema';
import { describeSchemaOperations, writeSchemaWsdl } from './schema-wsdl.writer';

const SCHEMA_ID = /^[a-z][a-zA-Z0-9]*:[A-Za-z_][A-Za-z0-9_]*$/;
// A host name, IPv4 or bracketed IPv6 literal, with an optional port: nothing that could break out of the
// address attribute or point clients somewhere odd.
const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})|\[[0-9A-Fa-f:.]{2,45}\])(?::\d{1,5})?$/;
const ROUTER_PATH = '/nl/jsp/soaprouter.jsp';

/** The SOAP router's URL as this request reached the gateway (Host, or X-Forwarded-Host behind a trusted proxy). */
function routerAddress(req: Request): string | undefined {
  // No Host at all (HTTP/1.0): the address the connection came in on.
  const local = req.socket.localAddress ?? '127.0.0.1';
  const host = req.host || `${local.includes(':') ? `[${local}]` : local}:${req.socket.localPort ?? 80}`;
  if (!HOST.test(host)) return undefined;
  return `${req.protocol}://${host}${ROUTER_PATH}`;
}

/**
 * `GET /nl/jsp/schemawsdl.jsp?schema=ns:name`: the WSDL 1.1 (document/literal) of a schema's SOAP methods,
 * as Campaign serves it, with the gateway's own SOAP router as address. Unknown schema → 404; missing or
 * malformed `schema` (or Host) → 400; both in plain text. Anonymous: it describes method signatures, not
 * data (every call it describes still needs a session). Built once per schema.
 */
export function createWsdlRouter(deps: { schemas: ReadonlyMap<string, Schema> }): Router {
  const router = Router();
  const writers = new Map<string, (address: string) => string>();

  router.get('/nl/jsp/schemawsdl.jsp', (req, res) => {
    res.set('X-Content-Type-Options', 'nosniff');
    const id = req.query['schema'];
    if (typeof id !== 'string' || !SCHEMA_ID.test(id)) {
      res.status(400).type('text/plain').send('The schema parameter must be one schema id like "nms:rtEvent"\n');
      return;
    }
    const schema = deps.schemas.get(id);
    if (!schema) {
      res.status(404).type('text/plain').send(`Unknown schema '${id}'\n`);
      return;
    }
    const address = routerAddress(req);
    if (!address) {
      res.status(400).type('text/plain').send('Invalid Host header\n');
      return;
    }
    let write = writers.get(id);
    if (!write) {
      write = writeSchemaWsdl(schema, describeSchemaOperations(schema));
      writers.set(id, write);
    }
    res.status(200).type('text/xml; charset=utf-8').send(write(address));
  });
  return router;
}
