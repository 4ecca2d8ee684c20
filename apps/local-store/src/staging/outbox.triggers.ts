import { quoteIdent, type Schema } from '@cap/campaign-schema';
import { TOPICS } from '@cap/contracts';
import type { Logger } from '@cap/platform-logger';
import type { Pool } from '@cap/platform-postgres';

/** How one local table feeds the outbox. */
export interface OutboxSource {
  table: string;
  /** The cloud schema the change is applied to. */
  target: string;
  /** The local schema that recorded it. */
  source: string;
  topic: string;
  /** Key columns of a replicated table; empty for staging tables (each row names its own key: cap_key). */
  keyColumns: string[];
  events: 'INSERT' | 'INSERT OR UPDATE OR DELETE';
}

/**
 * Which local tables feed the outbox: every staging table (appends only: a staged row is a change) and
 * every replicated table (inserts, updates and deletes are mirrored to the cloud copy).
 */
export function outboxSources(schemas: ReadonlyMap<string, Schema>): OutboxSource[] {
  const out: OutboxSource[] = [];
  for (const schema of schemas.values()) {
    if (!schema.persistent || !schema.databases.includes('local')) continue;
    if (schema.placement === 'staging' && schema.stagingOf) {
      out.push({ table: schema.table, target: schema.stagingOf, source: schema.id, topic: TOPICS.stagingChanges.name, keyColumns: [], events: 'INSERT' });
    } else if (schema.placement === 'replicated' && schema.primaryKey) {
      out.push({
        table: schema.table,
        target: schema.id,
        source: schema.id,
        topic: TOPICS.replicationChanges.name,
        keyColumns: [schema.primaryKey.column],
        events: 'INSERT OR UPDATE OR DELETE',
      });
    }
  }
  return out.sort((a, b) => a.table.localeCompare(b.table));
}

const literal = (v: string) => `'${v.replace(/'/g, "''")}'`;

/** The trigger DDL for one source (idempotent: CREATE OR REPLACE). */
export function outboxTriggerSql(s: OutboxSource): string {
  const args = [s.target, s.source, s.topic, s.keyColumns.join(',')].map(literal).join(', ');
  return `CREATE OR REPLACE TRIGGER cap_outbox_capture AFTER ${s.events} ON ${quoteIdent(s.table)} FOR EACH ROW EXECUTE FUNCTION cap_outbox_capture(${args})`;
}

/** Installs (or refreshes) the outbox triggers; runs after the schema DDL, before any seed data is written. */
export async function installOutboxTriggers(pool: Pool, schemas: ReadonlyMap<string, Schema>, logger: Logger): Promise<void> {
  const sources = outboxSources(schemas);
  for (const s of sources) await pool.query(outboxTriggerSql(s));
  logger.info({ event: 'outbox.triggers', tables: sources.map((s) => s.table) }, 'outbox triggers installed');
}
