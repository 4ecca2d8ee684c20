export { findBuiltinSchemaDir, loadSchemaRegistry, loadServiceSchemaSources, loadServiceSchemas, readSchemaSources } from './schema.loader';
export { SOURCE_BUILTIN_SCHEMA_DIR } from './builtin.paths';
export { DATA_MODEL_FILES, writeDataModelDocs } from './datamodel.writer';
