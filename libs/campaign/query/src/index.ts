/**
 * @cap/campaign-query — Campaign's read API without I/O: XTK expressions → syntax trees, queryDef (XML element
 * or SDK SimpleJson) → one parameterised PostgreSQL statement on compiled schemas, and result rows → Campaign's
 * result document (XML elements or SimpleJson objects), as docs/campaign-api.md#executequery describes.
 *
 *   const { sql, params, shape } = compileQueryDef(queryDefElement, schemas, { database: 'cloud' });
 *   const { rows } = await client.query(sql, params);        // in an app or libs/adapters, not here
 *   const output = shapeRows(shape, rows);                    // <recipient-collection>…</recipient-collection>
 *
 * Every value of the request is a bind parameter; every identifier comes from the compiled schemas. Errors are
 * QueryError (QUERY_INVALID, NO_RECORD for `get` without a record: libs/platform/errors/src/error.catalogue.ts); expression errors are
 * XtkExpressionError with the offending token and its 1-based position.
 */
// XTK expressions
export { parseExpression, DEFAULT_MAX_EXPRESSION_DEPTH, DEFAULT_MAX_EXPRESSION_LENGTH, type ParseOptions } from './xtk-expression.parser';
export { tokenizeExpression, type Token, type OperatorToken } from './xtk-expression.tokenizer';
export type {
  ArithmeticOp,
  BinaryNode,
  CallNode,
  ComparisonOp,
  ExprNode,
  InNode,
  IsNullNode,
  LikeNode,
  LiteralNode,
  LiteralType,
  LogicalNode,
  NullNode,
  PathNode,
  PathSegment,
  UnaryNode,
} from './xtk-expression.ast';
export { XTK_FUNCTIONS, type XtkFunction } from './xtk-function.catalogue';

// queryDef → SQL
export type { Condition, OrderNode, QueryDef, QueryOperation, SelectNode, SetOperator, SimpleJsonQueryDef, SubQuery } from './query-def.model';
export { normaliseQueryDef } from './query-def.normaliser';
export { compileQueryDef, DEFAULT_LINE_COUNT, MAX_LINE_COUNT, type CompileOptions } from './query-def.compiler';
export type { CompiledQuery, ResultShape, ShapeColumn, ShapeEnumeration } from './result-shape.model';
export { inlineSqlParams, queryFormat } from './query-text';

// queryDef over rows computed in memory (schemas with no table: xtk:srcSchema, xtk:schema, xtk:entity)
export {
  compileInMemoryQuery,
  type InMemoryField,
  type InMemoryQuery,
  type InMemoryQueryOptions,
  type InMemoryRow,
  type InMemorySchema,
} from './in-memory.query';

// Results
export { createResultBuilder, createResultTextBuilder, shapeRows, type ResultBuilder } from './result.shaper';
export { shapeRowsAsObjects, type SimpleJsonObject } from './result-object.shaper';
export type { ResultRow } from './result-shape.plan';
export { formatDateTime } from './value.formatter';

// Errors
export { QueryError, isQueryError } from './query.error';
export { XtkExpressionError, type UnknownNameKind } from './xtk-expression.error';
export { type QueryErrorKind } from './query-error.codes';
