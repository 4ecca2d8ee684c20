export { findBuiltinSchemaDir, loadSchemaRegistry, readSchemaSources } from './schema.loader';
export { SOURCE_BUILTIN_SCHEMA_DIR } from './builtin.paths';
