import { hashPassword, verifyPassword } from './password.hasher';

describe('password hasher', () => {
  it('when a password is hashed, then the hash hides it, is salted, and verifies only the same password', async () => {
    const a = await hashPassword('s3cret/with/slashes');
    const b = await hashPassword('s3cret/with/slashes');
    expect(a).toMatch(/^scrypt\$16384\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
    expect(a).not.toContain('s3cret');
    expect(a).not.toBe(b);
    await expect(verifyPassword('s3cret/with/slashes', a)).resolves.toBe(true);
    await expect(verifyPassword('s3cret/with/slashe', a)).resolves.toBe(false);
  });

  it('when the stored hash is malformed, then verification fails instead of throwing', async () => {
    await expect(verifyPassword('x', 'plain-text')).resolves.toBe(false);
    await expect(verifyPassword('x', 'scrypt$99999999$8$1$AA==$AA==')).resolves.toBe(false);
  });
});
