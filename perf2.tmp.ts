import { serializeXml } from '@cap/campaign-xml';
import { compileQueryDef, shapeRows, shapeRowsAsObjects } from './libs/campaign/query/src/index';
import { compileBuiltinSchemas } from './libs/campaign/query/test/builtin-schemas.fixture';
const schemas = compileBuiltinSchemas();
const c = compileQueryDef({ schema: 'nms:recipient', select: { node: [{ expr: '@id' }, { expr: '@email' }, { expr: '@created' }, { expr: '@blackList' }, { expr: '[location/@city]' }, { expr: '[folder/@label]' }, { expr: '@gender', analyze: true }, { expr: '@birthDate' }] } }, schemas);
const rows = Array.from({ length: 100000 }, (_, i) => ({ c0: `uuid-${i}`, c1: `user${i}@example.com`, c2: new Date(1700000000000 + i * 1000), c3: i % 2 === 0, c4: i % 3 ? 'Paris' : null, c5: 'Folder', c6: i % 3, c7: new Date(2000, 0, 1 + (i % 300)) }));
for (let k = 0; k < 5; k++) {
  let t = performance.now(); const x = shapeRows(c.shape, rows); const a = performance.now() - t;
  t = performance.now(); const o = shapeRowsAsObjects(c.shape, rows); const b = performance.now() - t;
  t = performance.now(); const s = serializeXml(x); const d = performance.now() - t;
  console.log('xml', a.toFixed(0), 'obj', b.toFixed(0), 'serialize', d.toFixed(0), s.length, Object.keys(o!).length);
}
