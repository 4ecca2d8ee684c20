import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { appError, appErrorOf, CatalogueError, ErrorCatalogue, ErrorCodes, renderMessage } from '../src';

const ROOT = join(__dirname, '..', '..', '..', '..');
const CATALOGUE_FILE = join('libs', 'platform', 'errors', 'src', 'error.catalogue.ts');
/** A code as the catalogue spells it: three capitals, a dash, six digits. */
const CODE = /\b[A-Z]{3}-\d{6}\b/g;

/** Production sources: every `src/` folder of the apps and libraries, without the unit tests kept beside them. */
function productionSources(): string[] {
  const found: string[] = [];
  const walk = (dir: string, inSrc: boolean) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.name === 'node_modules' || entry.name === 'dist') continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path, inSrc || entry.name === 'src');
      else if (inSrc && /\.(ts|js|mjs)$/.test(entry.name) && !/\.test\.ts$/.test(entry.name)) found.push(relative(ROOT, path));
    }
  };
  walk(join(ROOT, 'apps'), false);
  walk(join(ROOT, 'libs'), false);
  return found;
}

describe('the error catalogue', () => {
  const entries = Object.entries(ErrorCatalogue);

  it('when codes are listed, then each is well-formed and defined once', () => {
    const codes = entries.map(([, e]) => e.code);
    for (const code of codes) expect(code).toMatch(/^[A-Z]{3}-\d{6}$/);
    expect(new Set(codes).size).toBe(codes.length);
    expect(ErrorCodes.LOGON_REFUSED).toBe(ErrorCatalogue.LOGON_REFUSED.code);
  });

  it('when docs/errors.md is read, then it lists every catalogued code in a table row', () => {
    const doc = readFileSync(join(ROOT, 'docs', 'errors.md'), 'utf8');
    const documented = new Set([...doc.matchAll(/^\| `([A-Z]{3}-\d{6})` \|/gm)].map((m) => m[1]));
    const missing = entries.map(([, e]) => e.code).filter((code) => !documented.has(code));
    expect(missing).toEqual([]);
  });

  it('when docs/errors.md is read, then every code it lists is in the catalogue', () => {
    const doc = readFileSync(join(ROOT, 'docs', 'errors.md'), 'utf8');
    const catalogued = new Set<string>(entries.map(([, e]) => e.code));
    const unknown = [...new Set([...doc.matchAll(CODE)].map((m) => m[0]))].filter((code) => !catalogued.has(code));
    expect(unknown).toEqual([]);
  });

  it('when production sources are read, then none spells a code outside the catalogue', () => {
    const offenders = productionSources()
      .filter((file) => file !== CATALOGUE_FILE)
      .flatMap((file) => [...readFileSync(join(ROOT, file), 'utf8').matchAll(CODE)].map((m) => `${file}: ${m[0]}`));
    expect(offenders).toEqual([]);
  });

  it('when a template is rendered, then every value takes its place once, even one that looks like a placeholder', () => {
    expect(renderMessage(ErrorCatalogue.SOAP_BAD_PARAMETER, { method: 'Write', param: 'doc', why: 'a {why} inside' })).toBe(
      "Invalid parameter 'doc' of method 'Write': a {why} inside",
    );
    expect(renderMessage(ErrorCatalogue.LOGON_REFUSED, {})).toBe('Invalid login or password.');
  });

  it('when an AppError is raised by entry, then it carries the entry’s code, fault class, status and retry verdict', () => {
    const err = appError(ErrorCatalogue.SERVICE_UNAVAILABLE, { service: 'local-store', reason: 'circuit open' }, { details: { service: 'local-store' } });
    expect(err.toJSON()).toEqual({
      code: 'CAP-100101',
      message: 'Service local-store is unavailable: circuit open',
      retriable: true,
      httpStatus: 503,
      soapFaultCode: 'SOAP-ENV:Server',
      details: { service: 'local-store' },
    });
    expect(appError(ErrorCatalogue.NO_KEY, { detail: 'no key' }).toJSON()).toEqual({
      code: 'XTK-170104',
      message: 'no key',
      retriable: false,
      httpStatus: 200,
      soapFaultCode: 'SOAP-ENV:Client',
    });
  });

  it('when a domain error is raised by entry, then its message starts with the code and it crosses as the entry’s AppError', () => {
    const err = new CatalogueError(ErrorCatalogue.SERVICE_UNAVAILABLE, 'Service local-store is unavailable: circuit open');
    expect(err).toBeInstanceOf(Error);
    expect([err.name, err.code, err.retriable, err.message]).toEqual([
      'CatalogueError',
      'CAP-100101',
      true,
      'CAP-100101 Service local-store is unavailable: circuit open',
    ]);
    expect(appErrorOf(err).toJSON()).toEqual({
      code: 'CAP-100101',
      message: 'Service local-store is unavailable: circuit open',
      retriable: true,
      httpStatus: 503,
      soapFaultCode: 'SOAP-ENV:Server',
    });
  });
});
