import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compileSchemas } from '@cap/campaign-schema';
import { compileWritePlan, planWrite } from '@cap/campaign-write';
import { parseXml } from '@cap/campaign-xml';
import { installRows, STANDARD_FOLDERS } from './install.seed';

const BUILTIN = join(__dirname, '..', '..', '..', '..', 'libs', 'campaign', 'schema', 'builtin');
const schemas = compileSchemas(readdirSync(BUILTIN).map((file) => ({ file, text: readFileSync(join(BUILTIN, file), 'utf8') })));

describe('installRows', () => {
  it('when the install rows are planned against the built-in schemas, then every one is a valid insert keyed by a field its schema has', () => {
    for (const r of installRows()) {
      const schema = schemas.get(r.schema)!;
      for (const xpath of Object.keys(r.key)) expect(schema.fields.some((f) => f.xpath === xpath)).toBe(true);
      const [plan] = planWrite(parseXml(r.xml), schemas, { mode: 'write', now: new Date(0), newId: () => 'id' });
      expect(plan!.operation).toBe('insert');
      expect(compileWritePlan([plan!]).length).toBeGreaterThan(0);
    }
  });

  it('when the standard folders are listed, then samples 005 and 011 find theirs by name, with their labels and content types', () => {
    const folders = installRows().filter((r) => r.schema === 'xtk:folder');
    expect(folders.map((r) => r.key['@name'])).toEqual(STANDARD_FOLDERS.map((f) => f.name));
    expect(folders.map((r) => r.key['@name'])).toEqual(expect.arrayContaining(['nmsRootRecipient', 'nmsSetOfServices', 'nmsVisitor']));
    const recipients = folders.find((r) => r.key['@name'] === 'nmsRootRecipient')!;
    expect(parseXml(recipients.xml).attrs).toMatchObject({ label: 'Recipients', model: 'nmsRecipient', schema: 'nms:recipient', entity: 'xtk:folder' });
  });
});
