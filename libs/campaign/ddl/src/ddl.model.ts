import type { Database } from '@cap/campaign-schema';

/** A column as introspection found it. */
export interface ExistingColumn {
  name: string;
  /** The type as PostgreSQL prints it (`format_type`): `character varying(64)`, `bigint`, `timestamp with time zone`. */
  type: string;
  nullable: boolean;
}

/** A table of the database's `public` schema as introspection found it. */
export interface ExistingTable {
  name: string;
  columns: ExistingColumn[];
  /** Names of its indexes (including those behind PRIMARY KEY and UNIQUE constraints). */
  indexes: string[];
  /** Names of its constraints (primary key, unique, check). */
  constraints: string[];
  /**
   * The schema id the table was created for, read from its ownership comment (`cap:schema=nms:recipient`).
   * Undefined for tables the schema DDL does not own (cap_outbox, cap_schema_migrations, …): those are never
   * touched.
   */
  managedFor?: string;
}

export type DdlAction = 'create-table' | 'mark-table' | 'add-column' | 'widen-column' | 'drop-not-null' | 'add-constraint' | 'create-index';

export interface DdlStatement {
  action: DdlAction;
  table: string;
  /** One SQL statement, identifiers double-quoted, literals escaped; no trailing semicolon. */
  sql: string;
  /** One line for people: `add column nms_recipient.loyalty_tier varchar(16)`. */
  description: string;
}

/** What it takes to bring one database in line with the schemas. */
export interface DdlPlan {
  database: Database;
  /** In the order they must run; empty when the database is up to date. */
  statements: DdlStatement[];
  /** Differences left alone on purpose (a NOT NULL not enforced on existing rows, an obsolete index kept). */
  notices: string[];
  /** Human summary of the statements and notices. */
  summary: string;
}

/** Prefix of the table comment that marks a table as created by the schema DDL for one schema. */
export const TABLE_MARKER_PREFIX = 'cap:schema=';
