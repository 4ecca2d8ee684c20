import { Router, type Request } from 'express';
import { renderDataModel } from '@cap/campaign-docs';
import type { Schema } from '@cap/campaign-schema';
import { memoUntilFailure } from '@cap/platform-resilience';
import type { SessionStore } from './session/session.store';

const FORMATS = {
  '/nl/datamodel': ['text/html', 'html'],
  '/nl/datamodel.md': ['text/markdown', 'markdown'],
  '/nl/datamodel.json': ['application/json', 'json'],
  '/nl/datamodel.mmd': ['text/plain', 'mermaid'],
  '/nl/datamodel.svg': ['image/svg+xml', 'svg'],
} as const;

function sessionToken(req: Request): string | undefined {
  const header = req.get('X-Session-Token');
  if (header) return header;
  return /(?:^|;\s*)__sessiontoken=([^;]*)/.exec(req.get('cookie') ?? '')?.[1];
}

/**
 * The data-model description ("generate a full description of your data model"): HTML with the ER
 * diagram, Markdown, JSON, Mermaid and SVG, for a logged-on operator (session token in X-Session-Token or
 * the __sessiontoken cookie). Rendered once, on first request, from the compiled schemas.
 */
export function createDataModelRouter(deps: { schemas: ReadonlyMap<string, Schema>; sessions: SessionStore }): Router {
  const router = Router();
  // Rendered on first use; a failed render is tried again by the next request, not kept until a restart.
  const rendered = memoUntilFailure(() => renderDataModel(deps.schemas));
  for (const [path, [type, key]] of Object.entries(FORMATS)) {
    router.get(path, async (req, res) => {
      const token = sessionToken(req);
      const session = token ? await deps.sessions.find(token, req.get('X-Security-Token') || undefined, false) : undefined;
      if (!session) {
        res.status(401).type('text/plain').send('Log on first: send the session token in X-Session-Token or the __sessiontoken cookie');
        return;
      }
      const docs = await rendered();
      res.type(type).send(docs[key]);
    });
  }
  return router;
}
