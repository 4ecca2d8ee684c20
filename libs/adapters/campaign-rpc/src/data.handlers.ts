import type { Database, Schema } from '@cap/campaign-schema';
import type { GroupCommitOptions } from '@cap/campaign-postgres';
import type { RpcHandler } from '@cap/platform-kafka';
import type { Pool } from '@cap/platform-postgres';
import { createDeleteCollectionHandler } from './data-delete.handler';
import { createPackageHandler } from './data-package.handler';
import { createQueryHandler, type KeysetPaging, type QueryLimits } from './data-query.handler';
import { createWriteHandler, type OperatorRightsLookup } from './data-write.handler';

/**
 * The data API a database-owning service answers for the schemas stored in its database: data.query
 * (ExecuteQuery, BuildQuery), data.write (Write, WriteCollection, Ingest, IngestExt), data.deleteCollection,
 * data.installPackage (xtk:builder#InstallPackage: the package's entities of this database).
 */
export function createDataHandlers(deps: {
  pool: Pool;
  schemas: ReadonlyMap<string, Schema>;
  database: Database;
  limits: QueryLimits;
  keyset?: KeysetPaging;
  groupCommit?: GroupCommitOptions;
  operatorRights?: OperatorRightsLookup;
}): Record<string, RpcHandler> {
  return {
    'data.query': createQueryHandler(deps),
    'data.write': createWriteHandler(deps),
    'data.deleteCollection': createDeleteCollectionHandler(deps),
    'data.installPackage': createPackageHandler(deps),
  };
}
