import { randomUUID } from 'node:crypto';
import { quoteIdent, type Schema } from '@cap/campaign-schema';
import { compileWritePlan, planWrite } from '@cap/campaign-write';
import { parseXml } from '@cap/campaign-xml';
import { executeWriteSteps } from '@cap/campaign-postgres';
import type { Logger } from '@cap/platform-logger';
import { withTransaction, type Pool } from '@cap/platform-postgres';
import { ISO_COUNTRIES } from './iso-countries';

/** One row a default install has: its schema, the values of its first key, and the document that writes it. */
export interface InstallRow {
  schema: string;
  key: Record<string, string>;
  xml: string;
}

const attr = (name: string, value: string | number | boolean): string => ` ${name}="${escapeAttr(String(value))}"`;

function row(schemaId: string, element: string, values: Record<string, string | number | boolean>, keyField = 'name'): InstallRow {
  const attrs = Object.entries(values)
    .map(([k, v]) => attr(k, v))
    .join('');
  return { schema: schemaId, key: { [`@${keyField}`]: String(values[keyField]) }, xml: `<${element} xtkschema="${schemaId}" _operation="insert"${attrs}/>` };
}

/**
 * Folders of Campaign's default navigation tree whose content this platform has, by the internal names Adobe's
 * documentation and the SDK's samples use (`<folder _operation="none" name="nmsRootRecipient"/>` in sample 005, the
 * package of sample 011, `[folder/@name]='nmsTechnicalWorkflow'` in Campaign's workflow pages). Campaign puts them
 * under top-level nodes (Profiles and Targets; Administration > Production) whose internal names those sources do
 * not give, so they are seeded at the root here rather than under invented names. `nmsVisitor` holds no schema of
 * this platform, but nms:service's `visitorFolder` link names it.
 */
export const STANDARD_FOLDERS: readonly { name: string; label: string; model: string; schema: string }[] = [
  { name: 'nmsRootRecipient', label: 'Recipients', model: 'nmsRecipient', schema: 'nms:recipient' },
  { name: 'nmsSetOfServices', label: 'Services and Subscriptions', model: 'nmsService', schema: 'nms:service' },
  { name: 'nmsVisitor', label: 'Visitors', model: 'nmsVisitor', schema: 'nms:visitor' },
  { name: 'nmsTechnicalWorkflow', label: 'Technical workflows', model: 'xtkWorkflow', schema: 'xtk:workflow' },
];

/**
 * The rows every instance has, as a default Campaign install has them (docs/standard-schemas.md): the external
 * accounts `ffda` (the cloud database, which `dataSource="nms:extAccount:ffda"` names), `defaultEmailBulk`
 * (email routing) and `defaultPopAccount` (bounce mails); the target mappings of the built-in targeting
 * dimensions; the ISO 3166-1 countries; the `webapp` operator (web applications' agent: no credentials, so
 * it can never log on); and the standard folders (STANDARD_FOLDERS).
 */
export function installRows(): InstallRow[] {
  const rows: InstallRow[] = [
    row('nms:extAccount', 'extAccount', { name: 'ffda', label: 'Full FDA (cloud database)', type: 7, active: true, provider: 'PostgreSQL' }),
    row('nms:extAccount', 'extAccount', { name: 'defaultEmailBulk', label: 'Email routing', type: 1, active: true }),
    row('nms:extAccount', 'extAccount', { name: 'defaultPopAccount', label: 'Bounce mails', type: 0, active: false }),
  ];
  const mappings: [string, string, string, number, string?, string?][] = [
    ['mapRecipient', 'Recipients', 'nms:recipient', 2, 'nms:broadLogRcp', 'nms:trackingLogRcp'],
    ['mapSubscriptions', 'Subscriptions', 'nms:subscription', 2],
    ['mapOperator', 'Operators', 'xtk:operator', 1],
    ['mapRtEvent', 'Real-time events', 'nms:rtEvent', 0],
    ['mapBatchEvent', 'Batch events', 'nms:batchEvent', 0],
  ];
  for (const [name, label, schema, exclusionType, broadLog, trackingLog] of mappings) {
    const storage = `<storage${attr('exclusionType', exclusionType)}${broadLog ? attr('broadLogSchema', broadLog) : ''}${trackingLog ? attr('trackingLogSchema', trackingLog) : ''}/>`;
    rows.push({
      schema: 'nms:deliveryMapping',
      key: { '@name': name },
      xml: `<deliveryMapping xtkschema="nms:deliveryMapping" _operation="insert"${attr('name', name)}${attr('label', label)}${attr('schema', schema)}>${storage}</deliveryMapping>`,
    });
  }
  for (const c of ISO_COUNTRIES) rows.push(row('nms:country', 'country', { isoA2: c.isoA2, isoA3: c.isoA3, isoNum: c.isoNum, label: c.label }, 'isoA2'));
  rows.push(row('xtk:operator', 'operator', { name: 'webapp', label: 'Web applications agent', rights: '' }));
  for (const f of STANDARD_FOLDERS) rows.push(row('xtk:folder', 'folder', { ...f, entity: 'xtk:folder' }));
  return rows;
}

/**
 * Writes the rows of installRows() that are missing, through the same reconciliation as API writes (so replicated
 * rows reach the cloud database through the outbox). A row already there is left as the customer changed it;
 * a deleted one comes back at the next start. Idempotent; replicas starting together serialise on an advisory
 * lock. Runs after the schema DDL (apps/local-store/src/main.ts).
 */
export async function seedInstallData(pool: Pool, schemas: ReadonlyMap<string, Schema>, logger: Logger): Promise<void> {
  const rows = installRows();
  let written = 0;
  await withTransaction(pool, async (client) => {
    await client.query(`SELECT pg_advisory_xact_lock(hashtext('cap_install_seed'))`);
    for (const r of rows) {
      const schema = schemas.get(r.schema);
      if (!schema) throw new Error(`install seed: schema ${r.schema} is not loaded`);
      const entries = Object.entries(r.key).map(([xpath, value]) => {
        const field = schema.fields.find((f) => f.xpath === xpath);
        if (!field) throw new Error(`install seed: ${r.schema} has no field ${xpath}`);
        return { column: field.column, value };
      });
      const where = entries.map((e, i) => `${quoteIdent(e.column)} = $${i + 1}`).join(' AND ');
      const found = await client.query(
        `SELECT 1 FROM ${quoteIdent(schema.table)} WHERE ${where} LIMIT 1`,
        entries.map((e) => e.value),
      );
      if (found.rowCount) continue;
      const steps = compileWritePlan(planWrite(parseXml(r.xml), schemas, { mode: 'write', now: new Date(), newId: randomUUID }));
      await executeWriteSteps(client, steps);
      written++;
    }
  });
  logger.info({ event: 'seed.install', rows: rows.length, written }, 'install data checked');
}

function escapeAttr(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
