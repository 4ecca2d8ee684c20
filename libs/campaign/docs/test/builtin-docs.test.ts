import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compileSchemas } from '@cap/campaign-schema';
import { generateDataModelDocs } from '../src/index';

const BUILTIN = join(__dirname, '..', '..', 'schema', 'builtin');
const schemas = compileSchemas(
  readdirSync(BUILTIN)
    .filter((f) => f.endsWith('.xml'))
    .map((file) => ({ file, text: readFileSync(join(BUILTIN, file), 'utf8') })),
);
const docs = generateDataModelDocs(schemas);
const entity = (id: string) => id.replace(':', '_');

describe('data-model description of the built-in schemas', () => {
  it('when described, then every schema has a section in the Markdown and the HTML, and every table an entity in both diagrams', () => {
    for (const s of schemas.values()) {
      expect(docs.markdown).toContain(`(\`${s.id}\`)`);
      expect(docs.html).toContain(`<section class="schema" id="s-${s.id.replace(':', '-')}">`);
      if (s.persistent) {
        expect(docs.mermaid).toContain(`  ${entity(s.id)}["${s.id} (${s.placement})"] {`);
        expect(docs.dot).toContain(`    ${entity(s.id)} [label=<`);
      } else {
        expect(docs.mermaid).not.toContain(entity(s.id));
      }
    }
  });

  it('when described, then every N-1 link is a relationship in both diagrams and every link is listed with its target', () => {
    for (const s of schemas.values()) {
      for (const l of s.links) {
        expect(docs.html).toContain(`<a href="#s-${l.target.replace(':', '-')}"><code>${l.target}</code></a>`);
        if (l.cardinality === 'single') {
          expect(docs.mermaid).toContain(`  ${entity(s.id)} }o--o| ${entity(l.target)} : "${l.name}"`);
          expect(docs.dot).toMatch(new RegExp(`${entity(s.id)}:\\w+:e -> ${entity(l.target)}:\\w+:w \\[label="${l.name}"`));
        }
      }
    }
    expect(docs.mermaid).toContain('  nms_recipientStg }o..o| nms_recipient : "stages"');
    expect(docs.mermaid).toContain('  nms_subscriptionStg }o..o| nms_subscription : "stages"');
  });
});
