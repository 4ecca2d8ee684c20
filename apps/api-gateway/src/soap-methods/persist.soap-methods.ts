import { SOAP_FAULTS, SoapFault } from '@cap/campaign-soap';
import type { Schema } from '@cap/campaign-schema';
import { attrLocal, serializeXml, type XmlElement } from '@cap/campaign-xml';
import { ErrorCatalogue } from '@cap/platform-errors';
import type { SecretCipher } from '@cap/platform-secrets';
import type { Downstreams } from '../downstream.client';
import type { CallContext, SoapMethodTable } from '../soap/soap-method';
import { callerClaim, serviceFor } from './data.routing';
import { encryptExtAccountPasswords } from './ext-account.passwords';
import { boundedText, PARAM_LIMITS } from './param.limits';
import { isSrcSchemaDocument, type SchemaAuthoring } from './schema-authoring';

interface WriteResult {
  generatedIds: string[];
}

type Mode = 'write' | 'writeCollection' | 'ingest' | 'ingestExt';

/**
 * Write, WriteCollection (xtk:persist) and Ingest, IngestExt (xtk:session): the document goes, untouched,
 * to the service that owns the schema's table, which validates it whole, authorises every record (and every
 * linked record) by the schema it writes, and applies it in one transaction. The gateway routes it, and encrypts
 * the passwords of nms:extAccount records first: it alone holds the instance keys (docs/standard-schemas.md).
 */
export function createPersistSoapMethods(deps: {
  schemas: ReadonlyMap<string, Schema>;
  downstreams: Downstreams;
  /** Write of an xtk:srcSchema document: schema authoring (schema-authoring.ts), not a data service. */
  authoring?: SchemaAuthoring;
  cipher: Pick<SecretCipher, 'encrypt' | 'decrypt'>;
}): SoapMethodTable {
  const targetSchema = (doc: XmlElement, mode: Mode): Schema => {
    // Routing only. WriteCollection: the container's xtkschema, or the first record's.
    const id = attrLocal(doc, 'xtkschema') ?? (mode === 'writeCollection' ? doc.children.map((c) => attrLocal(c, 'xtkschema')).find(Boolean) : undefined);
    if (!id)
      throw SoapFault.of(ErrorCatalogue.MISSING_SCHEMA, {
        detail: `The document <${doc.local}> does not say which schema it writes: add xtkschema="namespace:name"`,
      });
    const schema = deps.schemas.get(id);
    if (!schema) throw SoapFault.of(ErrorCatalogue.UNKNOWN_SCHEMA, { detail: `Unknown schema '${id}'` });
    return schema;
  };

  const write = (mode: Mode, param: string) => async (ctx: CallContext) => {
    const doc = ctx.decoded.values.get(param) as XmlElement | undefined;
    if (!doc || typeof doc !== 'object' || !('local' in doc)) throw SOAP_FAULTS.badParameter(ctx.method.name, param, 'the document to write is missing');
    if (mode === 'write' && deps.authoring && isSrcSchemaDocument(doc)) {
      await deps.authoring.write(ctx, doc);
      return [];
    }
    const schema = targetSchema(doc, mode);
    if (mode === 'write' || mode === 'writeCollection') encryptExtAccountPasswords(doc, mode === 'writeCollection', deps.schemas, deps.cipher);
    const result = await deps.downstreams.call<WriteResult>(serviceFor(schema), 'data.write', {
      mode,
      doc: serializeXml(doc, { plain: true }),
      ...callerClaim(ctx.caller),
    });
    return mode === 'ingest' ? [result.generatedIds.join(',')] : [];
  };

  return {
    'persist#DeleteCollection': {
      auth: 'operator',
      async handle(ctx) {
        const id = ctx.decoded.values.get('schema');
        const where = ctx.decoded.values.get('where') as XmlElement | undefined;
        const schema = typeof id === 'string' ? deps.schemas.get(id) : undefined;
        if (!schema) throw SoapFault.of(ErrorCatalogue.UNKNOWN_SCHEMA, { detail: `Unknown schema '${String(id ?? '')}'` });
        if (!where || typeof where !== 'object' || !('local' in where))
          throw SOAP_FAULTS.badParameter(ctx.method.name, 'where', 'the <where> clause is missing');
        const whereXml = boundedText(ctx, 'where', serializeXml(where, { plain: true }), PARAM_LIMITS.queryDefChars);
        await deps.downstreams.call(serviceFor(schema), 'data.deleteCollection', { schema: schema.id, where: whereXml, ...callerClaim(ctx.caller) });
        return [];
      },
    },
    'persist#Write': { auth: 'operator', handle: write('write', 'doc') },
    'persist#WriteCollection': { auth: 'operator', handle: write('writeCollection', 'doc') },
    'xtk:session#Ingest': { auth: 'operator', handle: write('ingest', 'domDoc') },
    'xtk:session#IngestExt': { auth: 'operator', handle: write('ingestExt', 'domDoc') },
  };
}
