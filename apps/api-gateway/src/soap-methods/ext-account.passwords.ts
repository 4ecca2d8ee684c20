import { SoapFault } from '@cap/campaign-soap';
import type { Schema } from '@cap/campaign-schema';
import { attrLocal, type XmlElement } from '@cap/campaign-xml';
import { ErrorCatalogue } from '@cap/platform-errors';
import { SecretTokenError, type SecretCipher } from '@cap/platform-secrets';

/** The schema whose `@password` is only ever stored encrypted (docs/standard-schemas.md#external-accounts). */
export const EXT_ACCOUNT_SCHEMA = 'nms:extAccount';

/** The longest clear password encrypted on write, in UTF-8 bytes: its token fits the 1,024-character column. */
export const EXT_ACCOUNT_PASSWORD_MAX_BYTES = 512;

/**
 * Rewrites, in place, every `password` attribute of an nms:extAccount record of a write document so that only
 * tokens of the instance keys reach the database: a clear value is encrypted with the newest key; an `@…` value
 * is kept when it decrypts with a configured key and refused otherwise (EXT_ACCOUNT_PASSWORD_NOT_TOKEN: storing it would keep a value
 * nobody can ever decrypt, or a clear text that merely starts with `@`); an empty value (no password) stays empty.
 * Records are found as the write planner finds them: the root (Write) or each child (WriteCollection), their
 * schema from `xtkschema` (the container's for a collection's records), and single links given as sub-elements,
 * followed to their target schema. Anything this walk does not recognise is left as is: the planner refuses it.
 */
export function encryptExtAccountPasswords(
  doc: XmlElement,
  collection: boolean,
  schemas: ReadonlyMap<string, Schema>,
  cipher: Pick<SecretCipher, 'encrypt' | 'decrypt'>,
): void {
  const rootSchema = attrLocal(doc, 'xtkschema');
  const records = collection ? doc.children : [doc];
  for (const record of records) {
    const schema = schemas.get(attrLocal(record, 'xtkschema') ?? rootSchema ?? '');
    if (schema) visit(record, schema, schemas, cipher, 0);
  }
}

/** Links nest at most this deep in a document the walk follows (the planner has its own document limits). */
const MAX_DEPTH = 32;

function visit(el: XmlElement, schema: Schema, schemas: ReadonlyMap<string, Schema>, cipher: Pick<SecretCipher, 'encrypt' | 'decrypt'>, depth: number): void {
  if (schema.id === EXT_ACCOUNT_SCHEMA) {
    const password = el.attrs['password'];
    if (password !== undefined) el.attrs['password'] = protect(password, cipher, el.line);
  }
  if (depth >= MAX_DEPTH) return;
  for (const child of el.children) {
    const link = schema.links.find((l) => l.cardinality === 'single' && l.name === child.local);
    const target = link ? schemas.get(link.target) : undefined;
    if (target) visit(child, target, schemas, cipher, depth + 1);
  }
}

function protect(value: string, cipher: Pick<SecretCipher, 'encrypt' | 'decrypt'>, line: number): string {
  if (value === '') return value;
  if (value.startsWith('@')) {
    try {
      cipher.decrypt(value);
      return value;
    } catch (err) {
      if (!(err instanceof SecretTokenError)) throw err;
      throw SoapFault.of(ErrorCatalogue.EXT_ACCOUNT_PASSWORD_NOT_TOKEN, {
        detail:
          `The password of ${EXT_ACCOUNT_SCHEMA} (line ${line}) starts with '@' but is not an encrypted value of this instance (${err.reason}): ` +
          `send the password in clear, or encrypt it first with xtk:session#EncryptPassword`,
      });
    }
  }
  if (Buffer.byteLength(value, 'utf8') > EXT_ACCOUNT_PASSWORD_MAX_BYTES) {
    throw SoapFault.of(ErrorCatalogue.EXT_ACCOUNT_PASSWORD_TOO_LONG, {
      detail: `The password of ${EXT_ACCOUNT_SCHEMA} (line ${line}) is longer than ${EXT_ACCOUNT_PASSWORD_MAX_BYTES} bytes`,
    });
  }
  return cipher.encrypt(value);
}
