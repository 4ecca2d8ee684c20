import { randomBytes } from 'node:crypto';
import { createSecretCipher, inspectSecretToken, SecretTokenError } from './secret.cipher';
import { ringOf, type SecretKey } from './secret.keys';

const key = (id: string): SecretKey => ({ id, key: randomBytes(32) });

const reason = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    if (err instanceof SecretTokenError) return err.reason;
    throw err;
  }
  throw new Error('expected a SecretTokenError');
};

describe('secret cipher', () => {
  it('when a text is encrypted, then the token is "@" and base64, differs each time, and decrypts to the text', () => {
    const cipher = createSecretCipher(ringOf([key('k1')]));
    for (const text of ['', 'Hello, World', 'é€😀 and <xml/> & "quotes"', 'x'.repeat(70_000)]) {
      const a = cipher.encrypt(text);
      const b = cipher.encrypt(text);
      expect(a).toMatch(/^@[A-Za-z0-9+/]+={0,2}$/);
      expect(a).not.toBe(b);
      expect(cipher.decrypt(a)).toEqual({ text, keyId: 'k1' });
      expect(cipher.decrypt(b).text).toBe(text);
    }
  });

  it('when keys rotate, then new tokens use the newest key and tokens of every configured key still decrypt', () => {
    const [old, next] = [key('2025'), key('2026')];
    const before = createSecretCipher(ringOf([old]));
    const oldToken = before.encrypt('kept across rotation');
    const after = createSecretCipher(ringOf([next, old]));
    const newToken = after.encrypt('kept across rotation');
    expect(inspectSecretToken(oldToken)).toEqual({ version: 1, keyId: '2025' });
    expect(inspectSecretToken(newToken)).toEqual({ version: 1, keyId: '2026' });
    expect(after.decrypt(oldToken)).toEqual({ text: 'kept across rotation', keyId: '2025' });
    expect(after.decrypt(newToken)).toEqual({ text: 'kept across rotation', keyId: '2026' });
    // Once the old key is dropped, its tokens are refused (and say why), newer ones still decrypt.
    const retired = createSecretCipher(ringOf([next]));
    expect(reason(() => retired.decrypt(oldToken))).toMatch(/key this instance does not have/);
    expect(retired.decrypt(newToken).text).toBe('kept across rotation');
  });

  it('when a token is altered anywhere, then it is refused', () => {
    const cipher = createSecretCipher(ringOf([key('k1')]));
    const token = cipher.encrypt('secret value');
    const bytes = Buffer.from(token.slice(1), 'base64');
    for (let i = 0; i < bytes.length; i++) {
      const altered = Buffer.from(bytes);
      altered[i] = altered[i]! ^ 0x01;
      expect(() => cipher.decrypt(`@${altered.toString('base64')}`)).toThrow(SecretTokenError);
    }
  });

  it('when a token has the same key id but another key, or is not a token at all, then each gets its reason', () => {
    const mine = createSecretCipher(ringOf([key('k1')]));
    const theirs = createSecretCipher(ringOf([key('k1')]));
    expect(reason(() => mine.decrypt(theirs.encrypt('x')))).toBe('the token was altered, or not made with this key');
    expect(reason(() => mine.decrypt('plain text'))).toMatch(/^not an encrypted value/);
    expect(reason(() => mine.decrypt('@not base64!'))).toMatch(/^not an encrypted value/);
    expect(reason(() => mine.decrypt('@AgJrMQ=='))).toBe('unknown token format');
    expect(reason(() => mine.decrypt('@AQJrMQ=='))).toBe('the token is truncated');
    expect(inspectSecretToken('nope')).toBeUndefined();
  });
});
