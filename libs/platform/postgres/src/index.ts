export {
  checkPool,
  createPool,
  ensureDatabase,
  inTransaction,
  withTransaction,
  type Pool,
  type PoolClient,
  type PoolOptions,
  type TransactionOptions,
} from './pg.pool';
export { loadMigrations, migrate, type MigrateOptions, type Migration } from './migration.runner';
export { openDatabase, pingDatabase, type OpenDatabaseOptions } from './database.setup';
export { classifyPgError, type PgErrorVerdict } from './pg.errors';
export { createGroupCommitQueue, type GroupCommitQueue, type GroupCommitQueueOptions } from './group.commit';
export { startPgListener, type PgListener, type PgListenerOptions } from './pg.listener';
export {
  createPgQuarantine,
  ensureQuarantineTable,
  listQuarantined,
  QUARANTINE_DDL,
  registerQuarantineGauge,
  releaseQuarantined,
  type PgQuarantine,
  type QuarantineRow,
} from './pg.quarantine';
