export { DatabaseWriteError, executeWriteSteps, type Queryable } from './write.executor';
export { createWriteCommitter, type GroupCommitOptions, type WriteCommitter, type WriteCounts } from './write.group-commit';
export { applySchemaDdl, introspectDatabase } from './ddl.applier';
