import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '@cap/platform-config';
import { loadGatewayConfig } from './config';

const problemsOf = (env: Record<string, string>): string[] => {
  try {
    loadGatewayConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
};

describe('the gateway configuration: secrets keys', () => {
  it('when nothing is set outside production, then the development key ring is used', () => {
    const config = loadGatewayConfig({});
    expect(config.secretKeys.development).toBe(true);
    expect(config.secretKeys.current.id).toBe('dev');
  });

  it('when SECRETS_KEYS lists keys, then the first encrypts and all decrypt', () => {
    const config = loadGatewayConfig({
      NODE_ENV: 'production',
      SECRETS_KEYS: `b:${randomBytes(32).toString('base64')},a:${randomBytes(32).toString('base64')}`,
    });
    expect(config.secretKeys.current.id).toBe('b');
    expect([...config.secretKeys.byId.keys()]).toEqual(['b', 'a']);
  });

  it('when SECRETS_KEYS_FILE names a key file, then its keys are read; an unreadable file is named', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'cap-keys-')), 'keys');
    writeFileSync(file, `# current first\nnew:${randomBytes(32).toString('base64')}\nold:${randomBytes(32).toString('base64')}\n`);
    expect(loadGatewayConfig({ NODE_ENV: 'production', SECRETS_KEYS_FILE: file }).secretKeys.current.id).toBe('new');
    expect(problemsOf({ SECRETS_KEYS_FILE: `${file}.missing` })).toEqual([`SECRETS_KEYS_FILE=${JSON.stringify(`${file}.missing`)}: cannot be read (ENOENT)`]);
  });

  it('when production has no key, or a key is bad, then the start is refused naming the setting and never the key', () => {
    expect(problemsOf({ NODE_ENV: 'production' })).toEqual([expect.stringMatching(/^SECRETS_KEYS: required when NODE_ENV=production/)]);
    const short = randomBytes(8).toString('base64');
    const problems = problemsOf({ SECRETS_KEYS: `k1:${short}` });
    expect(problems).toEqual(['SECRETS_KEYS: entry 1 (key id "k1"): the key is 8 bytes; AES-256 takes 32 (openssl rand -base64 32)']);
    expect(problems.join()).not.toContain(short);
  });
});
