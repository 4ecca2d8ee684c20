import { serializeXml } from '@cap/campaign-xml';
import { compileInMemoryQuery, type InMemoryRow, type InMemorySchema } from './in-memory.query';
import { QueryError } from './query.error';

const schema: InMemorySchema = {
  id: 'xtk:srcSchema',
  rowName: 'srcSchema',
  fields: [
    { xpath: '@namespace', type: 'string' },
    { xpath: '@name', type: 'string' },
    { xpath: '@label', type: 'string' },
    { xpath: '@library', type: 'boolean' },
    { xpath: '@lastModified', type: 'datetime' },
    { xpath: 'data', type: 'memo' },
  ],
};

const rows: InMemoryRow[] = [
  { '@namespace': 'cus', '@name': 'book', '@label': 'Books', '@library': false, '@lastModified': new Date('2026-01-02T03:04:05.006Z'), data: '<srcSchema/>' },
  { '@namespace': 'cus', '@name': 'author', '@label': null, '@library': true, '@lastModified': null, data: '<x/>' },
  { '@namespace': 'nms', '@name': 'recipient', '@label': 'Recipients', '@library': false, '@lastModified': null, data: '<y/>' },
];

const run = (queryDef: Record<string, unknown>, options = {}) =>
  serializeXml(compileInMemoryQuery({ schema: 'xtk:srcSchema', ...queryDef }, schema, options).run(rows), { plain: true });
const select = (exprs: string[], rest: Record<string, unknown> = {}) => run({ select: { node: exprs.map((expr) => ({ expr })) }, ...rest });
const where = (expr: string) => ({ where: { condition: [{ expr }] } });
const refusal = (fn: () => unknown): QueryError => {
  try {
    fn();
  } catch (err) {
    if (err instanceof QueryError) return err;
    throw err;
  }
  throw new Error('expected a QueryError');
};

describe('compileInMemoryQuery', () => {
  it('when a select filters and orders, then the rows come as a table query shapes them', () => {
    expect(select(['@name', '@label'], { ...where("@namespace = 'cus'"), orderBy: { node: [{ expr: '@name' }] } })).toBe(
      '<srcSchema-collection><srcSchema name="author"/><srcSchema name="book" label="Books"/></srcSchema-collection>',
    );
    expect(select(['@name'], { orderBy: { node: [{ expr: '@label', sortDesc: true }] } })).toBe(
      '<srcSchema-collection><srcSchema name="author"/><srcSchema name="recipient"/><srcSchema name="book"/></srcSchema-collection>',
    );
  });

  it('when conditions use IN, LIKE, IS NULL, NOT, OR and functions, then SQL semantics apply (NULL is not false)', () => {
    expect(select(['@name'], where("@namespace IN ('nms', 'xtk')"))).toBe('<srcSchema-collection><srcSchema name="recipient"/></srcSchema-collection>');
    expect(select(['@name'], where("@name LIKE 'b%k'"))).toBe('<srcSchema-collection><srcSchema name="book"/></srcSchema-collection>');
    expect(select(['@name'], where("@name LIKE '%c_p%t'"))).toBe('<srcSchema-collection><srcSchema name="recipient"/></srcSchema-collection>');
    expect(select(['@name'], where("@name NOT LIKE '%o%'"))).toBe('<srcSchema-collection><srcSchema name="recipient"/></srcSchema-collection>');
    expect(select(['@name'], where('@label IS NULL'))).toBe('<srcSchema-collection><srcSchema name="author"/></srcSchema-collection>');
    // NOT (NULL = 'Books') is NULL: the row without a label is not returned.
    expect(select(['@name'], where("NOT @label = 'Books'"))).toBe('<srcSchema-collection><srcSchema name="recipient"/></srcSchema-collection>');
    expect(select(['@name'], where("Lower(@label) = 'books' OR @library = 1"))).toBe(
      '<srcSchema-collection><srcSchema name="book"/><srcSchema name="author"/></srcSchema-collection>',
    );
    expect(select(['@name'], where("@lastModified > '2026-01-01'"))).toBe('<srcSchema-collection><srcSchema name="book"/></srcSchema-collection>');
  });

  it('when the operation is count, get, getIfExists, or the select is paged, then the result is shaped accordingly', () => {
    expect(run({ operation: 'count', ...where("@namespace='cus'") })).toBe('<srcSchema count="2"/>');
    expect(run({ operation: 'get', select: { node: [{ expr: '@lastModified' }, { expr: 'data' }] }, ...where("@name='book'") })).toBe(
      '<srcSchema lastModified="2026-01-02 03:04:05.006Z"><data>&lt;srcSchema/&gt;</data></srcSchema>',
    );
    expect(refusal(() => run({ operation: 'get', select: { node: [{ expr: '@name' }] }, ...where("@name='none'") })).code).toBe('XSV-350122');
    expect(run({ operation: 'getIfExists', select: { node: [{ expr: '@name' }] }, ...where("@name='none'") })).toBe('<srcSchema/>');
    expect(select(['@name'], { lineCount: 1, startLine: 1, orderBy: { node: [{ expr: '@name' }] } })).toBe(
      '<srcSchema-collection><srcSchema name="book"/></srcSchema-collection>',
    );
    expect(select(['@namespace'], { distinct: true })).toBe(
      '<srcSchema-collection><srcSchema namespace="cus"/><srcSchema namespace="nms"/></srcSchema-collection>',
    );
    expect(select(['@name'], { lineCount: 999_999_999 })).toContain('recipient');
  });

  it('when the query names what the rows cannot answer, then QUERY_INVALID says what, before any row is read', () => {
    const unknown = refusal(() => compileInMemoryQuery({ schema: 'xtk:srcSchema', select: { node: [{ expr: '@colour' }] } }, schema));
    expect(unknown.message).toContain("Unknown attribute '@colour'");
    expect(refusal(() => select(['[folder/@label]'])).message).toContain("Unknown link 'folder'");
    expect(refusal(() => select(['Count(@name)'])).message).toContain('not available');
    expect(refusal(() => select(['@name'], { groupBy: { node: [{ expr: '@name' }] } })).message).toContain('groupBy');
    expect(refusal(() => select(['@name'], where("@lastModified > 'soon'"))).message).toContain('is not a datetime value');
    expect(refusal(() => select(['@name'], where('@name = @library'))).message).toContain('cannot compare');
    expect(refusal(() => select(['@name'], where('@name'))).code).toBe('XTK-170036');
    const sub = { where: { condition: [{ expr: '@name', setOperator: 'IN', subQuery: { schema: 'nms:recipient', select: { node: [{ expr: '@email' }] } } }] } };
    expect(refusal(() => select(['@name'], sub)).message).toContain('sub-queries');
  });

  it('when the answer or the work would be too large, then the query is refused rather than run', () => {
    expect(() => run({ select: { node: [{ expr: 'data' }] } }, { maxAnswerChars: 5 })).toThrow(/at most 5/);
    const long = { '@name': 'a'.repeat(100_000) };
    const query = compileInMemoryQuery(
      { schema: 'xtk:srcSchema', select: { node: [{ expr: '@name' }] }, ...where(`@name LIKE '%${'_a'.repeat(500)}c%'`) },
      schema,
      {
        maxWork: 1_000_000,
      },
    );
    expect(() => query.run(Array.from({ length: 10 }, () => long))).toThrow(/too much work/);
  });
});
