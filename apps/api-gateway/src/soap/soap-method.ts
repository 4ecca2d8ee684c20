import type { IncomingHttpHeaders } from 'node:http';
import type { Method, Schema } from '@cap/campaign-schema';
import type { DecodedCall, OutValue, SoapCall } from '@cap/campaign-soap';
import type { XmlElement } from '@cap/campaign-xml';
import type { Caller } from '../session/authenticator';

export interface CallContext {
  call: SoapCall;
  /** The schema the call addresses (for interface calls: the entity schema, e.g. nms:recipient). */
  schema: Schema;
  method: Method;
  decoded: DecodedCall;
  caller: Caller;
  request: { ip: string; headers: IncomingHttpHeaders };
}

export interface SoapMethodResult {
  outputs: OutValue[];
  /** For non-static methods that change their object (SelectAll): echoed as <entity>. */
  entity?: XmlElement;
}

/** The gateway's implementation of one SOAP method: who may call it and what it does. */
export interface SoapMethod {
  /** `none`: callable without credentials (Logon, GetServerTime). `operator`: needs an authenticated operator. */
  auth: 'none' | 'operator';
  /** A named right the operator needs (admin has every right). */
  right?: string;
  handle(ctx: CallContext): Promise<OutValue[] | SoapMethodResult>;
}

/**
 * SOAP methods by `schemaId#Method` (`xtk:session#Logon`), or `persist#Method` for the xtk:persist interface
 * methods every entity schema inherits (`xtk:persist|nms:recipient#Write`).
 */
export type SoapMethodTable = Record<string, SoapMethod>;
