import { SoapFault } from '@cap/campaign-soap';
import { ErrorCatalogue } from '@cap/platform-errors';
import type { SoapMethodTable } from '../soap/soap-method';
import { PARAM_LIMITS } from './param.limits';
import type { SchemaAuthoring } from './schema-authoring';

/**
 * xtk:builder#BuildSchemaFromId (docs/schema-authoring.md#building-a-schema-again-xtkbuilderbuildschemafromid), administrators only. In Campaign
 * a saved srcSchema is compiled by this call; here a Write of a srcSchema already compiles and applies it, so this
 * call compiles the schema again from the stored sources and applies its DDL to both databases (repairing a table or
 * column that went missing), then republishes it. It answers nothing, as Campaign's does.
 */
export function createBuilderSoapMethods(deps: { authoring: SchemaAuthoring }): SoapMethodTable {
  return {
    'xtk:builder#BuildSchemaFromId': {
      auth: 'operator',
      right: 'admin',
      async handle(ctx) {
        const id = ctx.decoded.values.get('schemaId');
        const text = typeof id === 'string' ? id.trim() : '';
        // No schema id is longer than a schema name may be: refused here, without a round trip.
        if (!/^[A-Za-z_][A-Za-z0-9_]*:[A-Za-z_][A-Za-z0-9_]*$/.test(text) || text.length > PARAM_LIMITS.schemaNameChars)
          throw SoapFault.of(ErrorCatalogue.UNKNOWN_SCHEMA, {
            detail: `Unknown schema '${text.slice(0, 200)}${text.length > 200 ? '…' : ''}': give the id of a schema (namespace:name)`,
          });
        await deps.authoring.rebuild(text);
        return [];
      },
    },
  };
}
