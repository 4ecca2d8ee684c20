import { compileBuiltinSchemas } from '../test/builtin-schemas.fixture';
import { getSchemaIndex } from './schema.index';

describe('getSchemaIndex', () => {
  const recipient = compileBuiltinSchemas().get('nms:recipient')!;

  it('when asked twice for one schema, then the same cached index is returned', () => {
    expect(getSchemaIndex(recipient)).toBe(getSchemaIndex(recipient));
  });

  it('when built, then fields are found by xpath, links by name, and element groups are known', () => {
    const index = getSchemaIndex(recipient);
    expect(index.fields.get('location/@city')!.column).toBe('location_city');
    expect(index.fields.get('@folder-id')!.column).toBe('folder_id');
    expect(index.links.get('subscription')!.cardinality).toBe('collection');
    expect([...index.elements]).toEqual(['location']);
    expect(index.enumerations.get('gender')!.values.map((v) => v.name)).toEqual(['unknown', 'male', 'female']);
  });
});
