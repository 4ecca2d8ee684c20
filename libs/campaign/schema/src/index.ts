export type {
  Database,
  EnumValue,
  Enumeration,
  Field,
  JoinPair,
  Key,
  Link,
  Method,
  MethodParam,
  ParamType,
  Placement,
  Schema,
  SourceRef,
  XtkType,
} from './schema.model';
export { XTK_TYPES } from './schema.model';
export { counterDefault, type CounterDefault } from './counter-default';
export { SchemaError, type SchemaProblem } from './schema.errors';
export { compileSchemas, normalizeXpath, type SchemaSource } from './schema.compiler';
export { columnName, isIdentifier, snakeCase, tableName } from './naming';
export { enumerationToXml, schemaToXml } from './schema.xml-writer';
export { isSqlIdentifier, MAX_IDENTIFIER_LENGTH, quoteIdent, quoteLiteral } from './sql.identifier';
export { authoredFile, createSchemaCatalog, readSrcSchemaHead, type AuthoredSource, type SchemaCatalog, type SrcSchemaHead } from './schema.catalog';
