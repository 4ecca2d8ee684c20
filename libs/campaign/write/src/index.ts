export { WriteError } from './write.errors';
export { convertValue, type SqlValue } from './value.converter';
export { planWrite, type FieldValue, type PlanOptions, type RecordPlan, type WriteMode, type WriteOperation } from './write.planner';
export { compileWritePlan, type SqlStatement, type WriteStep } from './write.sql';
export { checkWriteAccess, needsWriteRights, schemasWritten, type WriteCaller } from './write.access';
export { readPackage, sourceSchemasOf, SOURCE_SCHEMA_ID, type PackageContent, type PackageEntity } from './package.reader';
