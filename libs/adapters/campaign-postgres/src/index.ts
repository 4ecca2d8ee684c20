export { DatabaseWriteError, executeWriteSteps, type Queryable } from './write.executor';
export { applyGroup, createWriteCommitter, writeRolledBack, type GroupCommitOptions, type WriteCommitter, type WriteCounts } from './write.group-commit';
export { applySchemaDdl, applySchemaDdlIn, introspectDatabase, lockSchemaDdl } from './ddl.applier';
export { authoringFault, readAuthoredSchemas, readAuthoredStamps, saveAuthoredSchema, sourceDigest, type StoredAuthoredSource } from './authored-schema.store';
