export { findBuiltinSchemaDir, loadSchemaRegistry, loadServiceSchemas, readSchemaSources } from './schema.loader';
export { SOURCE_BUILTIN_SCHEMA_DIR } from './builtin.paths';
export { DatabaseWriteError, executeWriteSteps, type Queryable } from './write.executor';
export { applySchemaDdl, introspectDatabase } from './ddl.applier';
export { DATA_MODEL_FILES, renderDataModel, writeDataModelDocs } from './datamodel.writer';
export { campaignError, createWriteHandler, type WriteResult } from './data-write.handler';
export { createQueryHandler, type QueryLimits, type QueryTextResult } from './data-query.handler';
export { createDeleteCollectionHandler } from './data-delete.handler';
export { createDataHandlers } from './data.handlers';
