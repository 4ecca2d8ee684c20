import type { Database, Schema } from '@cap/campaign-schema';
import { QueryError } from './query.error';

/** PostgreSQL accepts at most 65,535 bind parameters in one statement. */
export const MAX_PARAMS = 65_535;

/**
 * State shared by one SQL statement and all its sub-queries: the bound parameters and the alias counters
 * (`r0`, `r1`… for query roots, `t0`, `t1`… for joins), plus the database every table must live in.
 */
export class StatementBuilder {
  readonly params: unknown[] = [];
  private roots = 0;
  private joins = 0;

  constructor(
    readonly schemas: ReadonlyMap<string, Schema>,
    readonly database: Database,
  ) {}

  /** Binds a value; returns its placeholder (`$3`). */
  param(value: unknown): string {
    if (this.params.length >= MAX_PARAMS) throw QueryError.invalid(`query has more than ${MAX_PARAMS} values`, 'limit');
    this.params.push(value);
    return `$${this.params.length}`;
  }

  rootAlias(): string {
    return `r${this.roots++}`;
  }

  joinAlias(): string {
    return `t${this.joins++}`;
  }

  /** The schema a query or link targets, checked to have a table in this statement's database. */
  queryableSchema(id: string, via?: string): Schema {
    const schema = this.schemas.get(id);
    if (!schema) throw QueryError.invalid(`Unknown schema '${id}'${via ? ` (${via})` : ''}`, 'unknown-name');
    if (!schema.persistent || schema.databases.length === 0) {
      throw QueryError.invalid(`Schema '${id}' has no table: it cannot be queried${via ? ` (${via})` : ''}`, 'database');
    }
    if (!schema.databases.includes(this.database)) {
      throw QueryError.invalid(
        `Schema '${id}' has no table in the ${this.database} database (it is in: ${schema.databases.join(', ')}); a query runs in one database${via ? ` (${via})` : ''}`,
        'database',
      );
    }
    return schema;
  }
}
