import { compileSchemas, type Schema } from '@cap/campaign-schema';
import { generateDataModelDocs } from './datamodel-docs.generator';

const HOSTILE = `<script>alert("x")</script> | *bold* [link](javascript:alert(1)) & 'quote'`;
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

const SOURCES = [
  {
    file: 'cus-shop.xml',
    text: `<srcSchema namespace="cus" name="shop" placement="replicated" label="${esc(HOSTILE)}">
      <element name="shop" autopk="true">
        <key name="code"><keyfield xpath="@code"/></key>
        <attribute name="code" type="string" length="16" label="${esc(HOSTILE)}" default="${esc('<b>')}"/>
      </element>
    </srcSchema>`,
  },
  {
    file: 'cus-visit.xml',
    text: `<srcSchema namespace="cus" name="visit">
      <enumeration name="channel" basetype="byte"><value name="web" value="1" label="${esc(HOSTILE)}"/></enumeration>
      <element name="visit" autopk="true" autouuid="true" autoStg="true" dataSource="nms:extAccount:ffda">
        <attribute name="channel" type="byte" enum="channel"/>
        <element name="shop" type="link" target="cus:shop" label="${esc(HOSTILE)}"/>
        <element name="referrer" type="link" target="cus:visit"/>
      </element>
      <methods><method name="Track" static="true"><parameters><param name="${'url'}" type="string" desc="${esc(HOSTILE)}"/></parameters></method></methods>
    </srcSchema>`,
  },
  { file: 'cus-api.xml', text: `<srcSchema namespace="cus" name="api"><methods><method name="Ping" static="true"/></methods></srcSchema>` },
];

const schemas: Map<string, Schema> = compileSchemas(SOURCES);
const docs = generateDataModelDocs(schemas);

describe('generateDataModelDocs', () => {
  it('when labels hold HTML, then the HTML page shows them escaped and never as markup', () => {
    expect(docs.html).not.toContain('<script');
    expect(docs.html).not.toContain('<b>');
    expect(docs.html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;');
    expect(docs.html).toContain('<code>&lt;b&gt;</code>');
    expect(docs.html).not.toMatch(/<(link|img|iframe)\b|src=|href="(?!#)/);
  });

  it('when labels hold Markdown or HTML, then the Markdown shows them as text without breaking the tables', () => {
    expect(docs.markdown).not.toContain('<script');
    expect(docs.markdown).toContain('\\| \\*bold\\* \\[link\\](javascript:alert(1)) &amp;');
    const rows = docs.markdown.split('\n').filter((l) => l.startsWith('| `@code`'));
    expect(rows).toHaveLength(1);
    expect(rows[0]!.split(/(?<!\\)\|/)).toHaveLength(10); // 8 cells between 9 unescaped pipes
  });

  it('when schemas and links are described, then every schema has a section and every link target is hyperlinked', () => {
    for (const s of schemas.values()) {
      expect(docs.html).toContain(`id="s-${s.id.replace(':', '-')}"`);
      expect(docs.markdown).toContain(`(\`${s.id}\`)`);
      for (const l of s.links) expect(docs.html).toContain(`<a href="#s-${l.target.replace(':', '-')}"><code>${l.target}</code></a>`);
    }
    expect(docs.html).toContain('<a href="#s-cus-visitStg"><code>cus:visitStg</code></a>');
    expect(docs.html).toContain('<a href="#e-cus-visit-channel"><code>cus:visit:channel</code></a>');
    expect(docs.html).toContain('Track');
  });

  it('when the Mermaid source is produced, then it is an erDiagram of identifier entities, with one relationship per N-1 link and a dashed one per staging table', () => {
    const lines = docs.mermaid.trimEnd().split('\n');
    expect(lines[0]).toBe('erDiagram');
    const entities = lines.filter((l) => l.endsWith('{')).map((l) => /^ {2}(\S+)\["[^"]*"\] \{$/.exec(l)?.[1]);
    expect(entities).toEqual(['cus_shop', 'cus_visit', 'cus_visitStg']);
    for (const name of entities) expect(name).toMatch(/^[A-Za-z_][A-Za-z0-9_]*$/);
    expect(lines.filter((l) => l === '  }')).toHaveLength(entities.length);
    for (const attr of lines.filter((l) => l.startsWith('    ')))
      expect(attr).toMatch(/^ {4}[A-Za-z_][\w]* [A-Za-z_]\w*( (PK|FK|UK)(, (PK|FK|UK))*)? "[^"]*"$/);
    expect(lines.filter((l) => l.includes('--') || l.includes('..'))).toEqual([
      '  cus_visit }o--o| cus_shop : "shop"',
      '  cus_visit }o--o| cus_visit : "referrer"',
      '  cus_visitStg }o..o| cus_visit : "stages"',
    ]);
    expect(docs.mermaid).not.toContain('cus_api');
  });

  it('when the DOT source is produced, then tables are coloured by placement, links run key to key and staging edges are dashed', () => {
    expect(docs.dot.startsWith('digraph datamodel {')).toBe(true);
    expect(docs.dot).toContain('subgraph cluster_replicated');
    expect(docs.dot).toContain('cus_visit:shop_id_out:e -> cus_shop:id_in:w [label="shop"');
    expect(docs.dot).toContain('cus_visitStg -> cus_visit [label="stages", style=dashed');
    expect(docs.dot).not.toContain('<script');
    expect(docs.dot).toContain('&lt;script&gt;alert(&quot;x&quot;)');
  });

  it('when the JSON is produced twice from schemas in another order, then the bytes are the same and keys are sorted', () => {
    const reversed = new Map([...schemas].reverse());
    expect(generateDataModelDocs(reversed).json).toBe(docs.json);
    const parsed = JSON.parse(docs.json) as { schemas: Record<string, unknown>[] };
    expect(parsed.schemas.map((s) => s['id'])).toEqual(['cus:api', 'cus:shop', 'cus:visit', 'cus:visitStg']);
    expect(Object.keys(parsed.schemas[0]!)).toEqual([...Object.keys(parsed.schemas[0]!)].sort());
  });
});
