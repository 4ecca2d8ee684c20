import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compileSchemas } from '@cap/campaign-schema';
import { ErrorCodes } from '@cap/platform-errors';
import type { Pool } from '@cap/platform-postgres';
import { createPackageHandler } from './data-package.handler';

const BUILTIN = join(__dirname, '..', '..', '..', 'campaign', 'schema', 'builtin');
const schemas = compileSchemas(readdirSync(BUILTIN).map((file) => ({ file, text: readFileSync(join(BUILTIN, file), 'utf8') })));

/** A pool that must not be reached: the refusals below happen before any statement. */
const untouchedPool = new Proxy({} as Pool, {
  get: (_, prop) => {
    throw new Error(`the database was used (${String(prop)})`);
  },
});
const ctx = { correlationId: 'c', deadline: Date.now() + 60_000 };
const doc = '<package-collection><operator xtkschema="xtk:operator" name="mc" rights="admin"/></package-collection>';
const refusal = async (p: Promise<unknown>) => {
  try {
    await p;
  } catch (err) {
    return err as { code: string; message: string };
  }
  throw new Error('expected a refusal');
};

describe('data.installPackage refusals before any write', () => {
  it('when the operator is not an administrator by this service own record, then XSV-350013, whatever the request claims', async () => {
    const handler = createPackageHandler({
      pool: untouchedPool,
      schemas,
      database: 'local',
      // The service's own view: mc has messageCenter only, although the request claims admin.
      operatorRights: async () => ({ login: 'mc', rights: ['messageCenter'] }),
    });
    const err = await refusal(handler({ doc, operatorId: '2', operatorLogin: 'mc', operatorRights: ['admin'] }, ctx));
    expect(err.code).toBe('XSV-350013');
    expect(err.message).toMatch(/operator 'mc'.*install a package/);
  });

  it('when no operator is named (default: rights as claimed), then a claim of admin alone is not enough', async () => {
    const handler = createPackageHandler({ pool: untouchedPool, schemas, database: 'local' });
    // nms:service restricts no writes: only the package's own admin check stands between this claim and the database.
    const service = '<package-collection><service xtkschema="nms:service" name="s"/></package-collection>';
    expect((await refusal(handler({ doc: service, operatorRights: ['admin'] }, ctx))).code).toBe('XSV-350013');
  });

  it('when a package part reaches the service of the other database, then XTK-170107 and nothing runs', async () => {
    const handler = createPackageHandler({
      pool: untouchedPool,
      schemas,
      database: 'cloud',
      operatorRights: async () => ({ login: 'admin', rights: ['admin'] }),
    });
    const err = await refusal(handler({ doc: '<package-collection><option xtkschema="xtk:option" name="x"/></package-collection>', operatorId: '1' }, ctx));
    expect(err.code).toBe('XTK-170107');
  });

  it('when the parameters are empty, then CAP-100301; when its XML is malformed, then the malformed-document fault naming the package', async () => {
    const handler = createPackageHandler({ pool: untouchedPool, schemas, database: 'local', operatorRights: async () => ({ rights: ['admin'] }) });
    expect((await refusal(handler({ doc: '' }, ctx))).code).toBe('CAP-100301');
    const malformed = await refusal(handler({ doc: '<package-collection><option' }, ctx));
    expect(malformed.code).toBe(ErrorCodes.SOAP_MALFORMED);
    expect(malformed.message).toMatch(/package/);
  });
});
