import { createSchemaCatalog, readSrcSchemaHead } from './schema.catalog';
import { SchemaError } from './schema.errors';

const base = {
  file: 'cus-base.xml',
  text: `<srcSchema namespace="cus" name="base" placement="local"><element name="base" autopk="true"><attribute name="a" type="string" length="8"/></element></srcSchema>`,
};
const thing = (label: string) =>
  `<srcSchema namespace="cus" name="thing" label="${label}" placement="local"><element name="thing" autopk="true"><attribute name="t" type="long"/></element></srcSchema>`;
const extension = `<srcSchema namespace="ext" name="base" extendedSchema="cus:base"><element name="base"><attribute name="b" type="long"/></element></srcSchema>`;

describe('schema catalog', () => {
  it('when a srcSchema head is read, then its id and what it extends come out; a bad one is a SchemaError', () => {
    expect(readSrcSchemaHead(extension)).toEqual({ id: 'ext:base', namespace: 'ext', name: 'base', extendedSchema: 'cus:base' });
    expect(() => readSrcSchemaHead('<schema namespace="cus" name="x"/>')).toThrow(SchemaError);
    expect(() => readSrcSchemaHead('<srcSchema namespace="cus"')).toThrow(SchemaError);
  });

  it('when authored sources are installed, then the shared map holds them and the sources are served as written', () => {
    const catalog = createSchemaCatalog([base]);
    const shared = catalog.schemas; // what every SOAP method and RPC handler was given at start
    expect(shared.has('cus:thing')).toBe(false);
    catalog.upsertAuthored([
      { id: 'cus:thing', text: thing('One') },
      { id: 'ext:base', text: extension },
    ]);
    expect(shared.get('cus:thing')?.label).toBe('One');
    expect(shared.get('cus:base')?.fields.map((f) => f.name)).toEqual(expect.arrayContaining(['a', 'b']));
    expect(catalog.sourceOf('cus:thing')).toEqual({ text: thing('One'), authored: true });
    expect(catalog.sourceOf('cus:base')).toEqual({ text: base.text, authored: false });
    expect(catalog.sourceOf('ext:base')?.text).toBe(extension);
    expect(catalog.fileSchemaIds.has('cus:base')).toBe(true);
    expect(catalog.sourceIds().sort()).toEqual(['cus:base', 'cus:thing', 'ext:base']);
  });

  it('when a new version of an authored source is installed, then it replaces the previous one', () => {
    const catalog = createSchemaCatalog([base]);
    catalog.upsertAuthored([{ id: 'cus:thing', text: thing('One') }]);
    const before = catalog.schemas.get('cus:thing');
    catalog.upsertAuthored([{ id: 'cus:thing', text: thing('One') }]);
    expect(catalog.schemas.get('cus:thing')).toBe(before); // the same text: nothing compiled again
    catalog.upsertAuthored([{ id: 'cus:thing', text: thing('Two') }]);
    expect(catalog.schemas.get('cus:thing')?.label).toBe('Two');
    expect(catalog.authored()).toHaveLength(1);
  });

  it('when an authored source does not compile, then compileWith lists the problem and the catalog is unchanged', () => {
    const catalog = createSchemaCatalog([base]);
    const broken = `<srcSchema namespace="cus" name="bad"><element name="bad"><attribute name="x" type="colour"/></element></srcSchema>`;
    expect(() => catalog.compileWith([{ id: 'cus:bad', text: broken }])).toThrow(/authored cus:bad:1: .*colour/);
    expect(() => catalog.upsertAuthored([{ id: 'cus:bad', text: broken }])).toThrow(SchemaError);
    expect(catalog.schemas.has('cus:bad')).toBe(false);
    expect(catalog.authored()).toEqual([]);
  });
});
