import { randomBytes } from 'node:crypto';
import { DEVELOPMENT_SECRET_KEY, parseSecretKeys, resolveSecretKeys } from './secret.keys';

const k = () => randomBytes(32).toString('base64');

describe('secret keys', () => {
  it('when keys are listed newest first, then the first encrypts and every one is kept by id', () => {
    const [a, b] = [k(), k()];
    const { ring, problems } = resolveSecretKeys({ keys: `k2:${a}, k1:${b}`, production: true });
    expect(problems).toEqual([]);
    expect(ring!.current.id).toBe('k2');
    expect([...ring!.byId.keys()]).toEqual(['k2', 'k1']);
    expect(ring!.byId.get('k1')!.key.equals(Buffer.from(b, 'base64'))).toBe(true);
    expect(ring!.development).toBe(false);
  });

  it('when a key file lists keys one a line with comments, then they are read like the setting', () => {
    const { ring, problems } = resolveSecretKeys({ file: { name: 'keys.txt', text: `# rotated 2026-12\nnew:${k()}\n\nold:${k()}\n` }, production: true });
    expect(problems).toEqual([]);
    expect(ring!.current.id).toBe('new');
    expect(ring!.byId.size).toBe(2);
  });

  it('when entries are bad, then every one is named by position and id, and no key material is printed', () => {
    const short = Buffer.alloc(16, 7).toString('base64');
    const { keys, problems } = parseSecretKeys(`nocolon, bad id!:${k()}, short:${short}, notb64:%%%%, ok:${k()}, ok:${k()}`, 'SECRETS_KEYS');
    expect(keys.map((x) => x.id)).toEqual(['ok']);
    expect(problems).toEqual([
      'SECRETS_KEYS: entry 1: expected <key id>:<base64 key>',
      'SECRETS_KEYS: entry 2: the key id must be 1 to 16 letters, digits, ".", "-" or "_"',
      'SECRETS_KEYS: entry 3 (key id "short"): the key is 16 bytes; AES-256 takes 32 (openssl rand -base64 32)',
      'SECRETS_KEYS: entry 4 (key id "notb64"): the key is not base64',
      'SECRETS_KEYS: entry 6: the key id "ok" is used twice',
    ]);
    expect(problems.join('\n')).not.toContain(short);
  });

  it('when no key is set, then production refuses and development uses the public development key', () => {
    expect(resolveSecretKeys({ production: true }).problems).toEqual([expect.stringMatching(/^SECRETS_KEYS: required when NODE_ENV=production/)]);
    const dev = resolveSecretKeys({ keys: '  ', production: false });
    expect(dev.ring!.development).toBe(true);
    expect(dev.ring!.current).toBe(DEVELOPMENT_SECRET_KEY);
  });

  it('when both settings are set, or production is given the development key, then it is refused', () => {
    expect(resolveSecretKeys({ keys: `a:${k()}`, file: { name: 'f', text: `b:${k()}` }, production: false }).problems).toEqual([
      'SECRETS_KEYS and SECRETS_KEYS_FILE are both set: use one of them',
    ]);
    const devKey = `dev:${DEVELOPMENT_SECRET_KEY.key.toString('base64')}`;
    expect(resolveSecretKeys({ keys: devKey, production: true }).problems).toHaveLength(1);
    expect(resolveSecretKeys({ keys: devKey, production: false }).problems).toEqual([]);
    expect(resolveSecretKeys({ file: { name: 'empty.txt', text: '# nothing\n' }, production: false }).problems).toEqual([
      'SECRETS_KEYS_FILE (empty.txt): no key given',
    ]);
  });
});
