import { SERVICES } from '@cap/contracts';
import { SOAP_FAULTS } from '@cap/campaign-soap';
import { attrLocal, type XmlElement } from '@cap/campaign-xml';
import type { Downstreams } from '../downstream.client';
import type { CallContext, SoapMethodTable } from '../soap/soap-method';

/**
 * xtk:fileRes, the record the SDK's fileUploader.upload writes after uploading a file (docs/files-and-reports.md):
 *
 * - `PublishIfNeeded` (called on the record): publishes its file (`@md5`, the extension of `@fileName`) unless it
 *   already is — for the operator who uploaded that file, or an admin — and sets `@published`, `@publishedUrl`.
 * - `GetURL` (const): the public URL of the published file, `<FILE_PUBLIC_URL>/res/<instance>/<md5>.<ext>`.
 *
 * The record is found by the `@internalName` of the object the method is called on, as stored (the object's other
 * values are not trusted). Any operator may call them; local-store decides who may publish what.
 */
export function createFileResSoapMethods(deps: { downstreams: Downstreams; publicUrl: string; instanceName: string }): SoapMethodTable {
  const internalNameOf = (ctx: CallContext): string => {
    let entity: XmlElement | undefined = ctx.decoded.entity;
    if (entity && !attrLocal(entity, 'internalName') && entity.children.length === 1 && entity.children[0]!.local === 'fileRes') entity = entity.children[0]!;
    const name = entity ? (attrLocal(entity, 'internalName') ?? '').trim() : '';
    if (name === '' || name.length > 128)
      throw SOAP_FAULTS.badParameter(ctx.method.name, 'fileRes', 'give the @internalName (1 to 128 characters) of an xtk:fileRes record');
    return name;
  };
  const urlPrefix = (ctx: CallContext): string => {
    const base = deps.publicUrl || `http://${String(ctx.request.headers.host ?? 'localhost').replace(/[^A-Za-z0-9.:[\]-]/g, '')}`;
    return `${base.replace(/\/+$/, '')}/res/${deps.instanceName}/`;
  };
  const operatorId = (ctx: CallContext): string => (ctx.caller.kind === 'operator' ? ctx.caller.operator.id : '');

  return {
    'xtk:fileRes#PublishIfNeeded': {
      auth: 'operator',
      async handle(ctx) {
        await deps.downstreams.call(SERVICES.localStore, 'file.publish', {
          internalName: internalNameOf(ctx),
          operatorId: operatorId(ctx),
          urlPrefix: urlPrefix(ctx),
        });
        return [];
      },
    },
    'xtk:fileRes#GetURL': {
      auth: 'operator',
      async handle(ctx) {
        const { url } = await deps.downstreams.call<{ url: string }>(SERVICES.localStore, 'file.url', {
          internalName: internalNameOf(ctx),
          urlPrefix: urlPrefix(ctx),
        });
        return [url];
      },
    },
  };
}
