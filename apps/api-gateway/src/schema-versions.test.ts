import { compileSchemas } from '@cap/campaign-schema';
import { changedSchemaVersions, createSchemaVersions, parseSchemaVersion, schemaDigest } from './schema-versions';

const compile = (label: string) =>
  compileSchemas([
    {
      file: 'cus-thing.xml',
      text: `<srcSchema namespace="cus" name="thing" label="${label}" placement="local"><element name="thing" autopk="true"/></srcSchema>`,
    },
  ]);

describe('schema versions', () => {
  it('when a schema changes, then its digest changes; the same schema compiled twice has the same digest', () => {
    const a = schemaDigest(compile('A').get('cus:thing')!);
    expect(a).toMatch(/^[0-9A-F]{32}$/);
    expect(schemaDigest(compile('A').get('cus:thing')!)).toBe(a);
    expect(schemaDigest(compile('B').get('cus:thing')!)).not.toBe(a);
  });

  it('when a gateway starts, then only the schemas whose digest differs from the recorded one, or has none, are stamped', () => {
    const digests = new Map([
      ['cus:same', 'A'.repeat(32)],
      ['cus:changed', 'B'.repeat(32)],
      ['cus:new', 'C'.repeat(32)],
    ]);
    const recorded = { 'cus:same': `${'A'.repeat(32)};100`, 'cus:changed': `${'D'.repeat(32)};100`, 'cus:garbled': 'x' };
    expect(changedSchemaVersions(digests, recorded, 500)).toEqual(
      new Map([
        ['cus:changed', { md5: 'B'.repeat(32), lastModified: 500 }],
        ['cus:new', { md5: 'C'.repeat(32), lastModified: 500 }],
      ]),
    );
    expect(parseSchemaVersion('x')).toBeUndefined();
  });

  it('when two gateways start on different versions of a schema, then the later one stamps it and both read the same versions', async () => {
    const hash: Record<string, string> = {};
    const store = { hGetAll: async () => ({ ...hash }), hSet: async (_key: string, values: Record<string, string>) => Object.assign(hash, values) };
    const first = createSchemaVersions({ store, keyPrefix: 'p:', schemas: compile('A'), now: () => 1_000 });
    await first.record();
    await first.record();
    expect((await first.all()).get('cus:thing')).toEqual({ md5: first.digestOf('cus:thing'), lastModified: 1_000 });
    const second = createSchemaVersions({ store, keyPrefix: 'p:', schemas: compile('B'), now: () => 2_000 });
    await second.record();
    expect((await first.all()).get('cus:thing')).toEqual({ md5: second.digestOf('cus:thing'), lastModified: 2_000 });
  });
});
