export { createWriteHandler, CLAIMED_RIGHTS, type ClaimedCaller, type OperatorRightsLookup, type WriteResult } from './data-write.handler';
export { createQueryHandler, type KeysetPaging, type PageMode, type QueryLimits, type QueryTextResult } from './data-query.handler';
export { createDeleteCollectionHandler } from './data-delete.handler';
export { createDataHandlers } from './data.handlers';
export { createPageCursorCache, getPageQueryKey, type PageCursor, type PageCursorCache, type PageCursorCacheOptions } from './page-cursor.cache';
export { createPackageHandler, type PackageEntityReport, type PackageInstallResult, type PackageOutcome } from './data-package.handler';
