export { planDatabase } from './database.planner';
export { DdlError } from './ddl.errors';
export { TABLE_MARKER_PREFIX, type DdlAction, type DdlPlan, type DdlStatement, type ExistingColumn, type ExistingTable } from './ddl.model';
export { isSafeWidening, parsePgType, renderSqlType, sqlTypeOf, type SqlType } from './sql-type.mapper';
export { buildDesiredTables, type DesiredColumn, type DesiredTable } from './table.builder';
