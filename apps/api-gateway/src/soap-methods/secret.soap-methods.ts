import { SOAP_FAULTS, SoapFault } from '@cap/campaign-soap';
import { ErrorCatalogue } from '@cap/platform-errors';
import { SecretTokenError, type SecretCipher } from '@cap/platform-secrets';
import type { CallContext, SoapMethod, SoapMethodTable } from '../soap/soap-method';
import { boundedText } from './param.limits';

/**
 * The largest values the secrets methods take (SOAP_BAD_PARAMETER naming the parameter beyond): a text to
 * encrypt, a password to hash (the operator password limit: scrypt work grows with it), and a token to re-encrypt
 * (a token of the longest text: 4 bytes a character at most, base64).
 */
export const SECRET_LIMITS = {
  textChars: 65_536,
  passwordChars: 1_024,
  tokenChars: 400_000,
} as const;

/** A string parameter as sent (never trimmed), required and bounded. */
function stringParam(ctx: CallContext, param: string, max: number): string {
  const value = ctx.decoded.values.get(param);
  if (typeof value !== 'string') throw SOAP_FAULTS.badParameter(ctx.method.name, param, 'the parameter is missing');
  // The decoder reads a string parameter as its element's direct text, so `<decrypted><pw>x</pw></decrypted>` would
  // be encrypted (or hashed) as '': a secret the caller never meant. Elements are refused instead. These methods are
  // static: the session token comes first, then the in-parameters in declaration order.
  const position = ctx.method.params.filter((p) => p.inout !== 'out').findIndex((p) => p.name === param);
  if ((ctx.call.params[1 + position]?.children.length ?? 0) > 0) throw SOAP_FAULTS.badParameter(ctx.method.name, param, 'expected a string, not XML elements');
  return boundedText(ctx, param, value, max);
}

/**
 * xtk:session secrets (docs/secrets.md): Encrypt / EncryptString / EncryptPassword / EncryptServerPassword /
 * EncryptStringWithServerPassword (reversible, AES-256-GCM with the instance keys), ReEncryptPassword (a token of any
 * configured key, made again with the newest one) and HashPassword (one-way, the operators' scrypt format). They run
 * here, in the gateway: they need the keys and no database. Authenticated operators only (anonymous callers get the
 * SESSION_INVALID fault).
 */
export function createSecretSoapMethods(deps: { cipher: SecretCipher; hashPassword: (password: string) => Promise<string> }): SoapMethodTable {
  const encrypt: SoapMethod = {
    auth: 'operator',
    handle: async (ctx) => [deps.cipher.encrypt(stringParam(ctx, 'decrypted', SECRET_LIMITS.textChars))],
  };
  return {
    'xtk:session#Encrypt': encrypt,
    'xtk:session#EncryptString': encrypt,
    'xtk:session#EncryptPassword': encrypt,
    // Campaign makes these with its server key (shared by the instances of one server) instead of the instance key.
    // The platform has one key set, held by the gateways only, so they answer EncryptPassword's tokens: decryptable
    // by those gateways alone, as a server-key token is by its Campaign server alone.
    'xtk:session#EncryptServerPassword': encrypt,
    'xtk:session#EncryptStringWithServerPassword': encrypt,
    'xtk:session#ReEncryptPassword': {
      auth: 'operator',
      async handle(ctx) {
        const token = stringParam(ctx, 'encrypted', SECRET_LIMITS.tokenChars);
        try {
          return [deps.cipher.encrypt(deps.cipher.decrypt(token).text)];
        } catch (err) {
          if (err instanceof SecretTokenError) throw SoapFault.of(ErrorCatalogue.SECRET_UNREADABLE, { why: err.reason });
          throw err;
        }
      },
    },
    'xtk:session#HashPassword': {
      auth: 'operator',
      handle: async (ctx) => [await deps.hashPassword(stringParam(ctx, 'decrypted', SECRET_LIMITS.passwordChars))],
    },
  };
}
