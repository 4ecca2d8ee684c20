import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { SecretKeyRing } from './secret.keys';

const VERSION = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** A token that cannot be decrypted; `reason` says why without revealing anything about a key. */
export class SecretTokenError extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'SecretTokenError';
  }
}

/**
 * Reversible encryption of strings with the instance keys (xtk:session#Encrypt, EncryptPassword):
 * AES-256-GCM, a random 96-bit IV per token, and the key id in the token so that a rotated ring still
 * decrypts older tokens. Token: `@` + base64(version 1 | key id length | key id | IV | tag | ciphertext); the
 * version and key id are authenticated too (GCM additional data). Layout: docs/secrets.md.
 */
export interface SecretCipher {
  /** Encrypts UTF-8 text with the newest key; two calls never give the same token. */
  encrypt(text: string): string;
  /** The text of a token made with any key of the ring; SecretTokenError when it is not one. */
  decrypt(token: string): { text: string; keyId: string };
}

/** The version and key id a token claims (not authenticated: decrypt checks them); undefined if unreadable. */
export function inspectSecretToken(token: string): { version: number; keyId: string } | undefined {
  const bytes = tokenBytes(token);
  if (!bytes || bytes.length < 2 || bytes.length < 2 + bytes[1]!) return undefined;
  return { version: bytes[0]!, keyId: bytes.subarray(2, 2 + bytes[1]!).toString('latin1') };
}

function tokenBytes(token: string): Buffer | undefined {
  if (!token.startsWith('@')) return undefined;
  const body = token.slice(1);
  if (body === '' || !BASE64.test(body)) return undefined;
  return Buffer.from(body, 'base64');
}

export function createSecretCipher(ring: SecretKeyRing): SecretCipher {
  return {
    encrypt(text) {
      const { id, key } = ring.current;
      const header = Buffer.concat([Buffer.from([VERSION, id.length]), Buffer.from(id, 'latin1')]);
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
      cipher.setAAD(header);
      const body = Buffer.concat([cipher.update(text, 'utf8'), cipher.final()]);
      return `@${Buffer.concat([header, iv, cipher.getAuthTag(), body]).toString('base64')}`;
    },
    decrypt(token) {
      const bytes = tokenBytes(token);
      if (!bytes) throw new SecretTokenError('not an encrypted value (expected "@" followed by base64)');
      if (bytes.length < 2 || bytes[0] !== VERSION) throw new SecretTokenError('unknown token format');
      const headerLength = 2 + bytes[1]!;
      if (bytes.length < headerLength + IV_BYTES + TAG_BYTES) throw new SecretTokenError('the token is truncated');
      const keyId = bytes.subarray(2, headerLength).toString('latin1');
      const secret = ring.byId.get(keyId);
      if (!secret) throw new SecretTokenError('the token was made with a key this instance does not have (rotated out, or another instance)');
      const iv = bytes.subarray(headerLength, headerLength + IV_BYTES);
      const tag = bytes.subarray(headerLength + IV_BYTES, headerLength + IV_BYTES + TAG_BYTES);
      const decipher = createDecipheriv('aes-256-gcm', secret.key, iv, { authTagLength: TAG_BYTES });
      decipher.setAAD(bytes.subarray(0, headerLength));
      decipher.setAuthTag(tag);
      try {
        const text = Buffer.concat([decipher.update(bytes.subarray(headerLength + IV_BYTES + TAG_BYTES)), decipher.final()]);
        return { text: text.toString('utf8'), keyId };
      } catch {
        throw new SecretTokenError('the token was altered, or not made with this key');
      }
    },
  };
}
