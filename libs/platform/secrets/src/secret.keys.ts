import { createHash } from 'node:crypto';

/** One key secrets are encrypted with: its id travels in every token it makes (docs/secrets.md). */
export interface SecretKey {
  readonly id: string;
  /** 32 bytes (AES-256). */
  readonly key: Buffer;
}

/** The configured keys: the first (newest) encrypts, every one decrypts. */
export interface SecretKeyRing {
  readonly current: SecretKey;
  readonly byId: ReadonlyMap<string, SecretKey>;
  /** True when no key was configured and the development key is in use (never with NODE_ENV=production). */
  readonly development: boolean;
}

const KEY_ID = /^[A-Za-z0-9._-]{1,16}$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{4})$/;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

/** The key used when none is configured outside production: derived from a public text, so it protects nothing. */
export const DEVELOPMENT_SECRET_KEY: SecretKey = Object.freeze({
  id: 'dev',
  key: createHash('sha256').update('campaign-api-platform development secrets key: public, never for real data').digest(),
});

/**
 * Parses `id:base64key` entries separated by commas or line breaks (blank lines and `#` comment lines are
 * skipped), newest first. A problem names the entry by its position and id, never by its key material.
 */
export function parseSecretKeys(text: string, source: string): { keys: SecretKey[]; problems: string[] } {
  const keys: SecretKey[] = [];
  const problems: string[] = [];
  const entries = text
    .split(/[,\r\n]/)
    .map((s) => s.trim())
    .filter((s) => s !== '' && !s.startsWith('#'));
  entries.forEach((entry, index) => {
    const where = `${source}: entry ${index + 1}`;
    const colon = entry.indexOf(':');
    if (colon === -1) {
      problems.push(`${where}: expected <key id>:<base64 key>`);
      return;
    }
    const id = entry.slice(0, colon).trim();
    const material = entry.slice(colon + 1).trim();
    if (!KEY_ID.test(id)) {
      problems.push(`${where}: the key id must be 1 to 16 letters, digits, ".", "-" or "_"`);
      return;
    }
    if (!BASE64.test(material) && !BASE64URL.test(material)) {
      problems.push(`${where} (key id "${id}"): the key is not base64`);
      return;
    }
    const key = Buffer.from(material, BASE64.test(material) ? 'base64' : 'base64url');
    if (key.length !== 32) {
      problems.push(`${where} (key id "${id}"): the key is ${key.length} bytes; AES-256 takes 32 (openssl rand -base64 32)`);
      return;
    }
    if (keys.some((k) => k.id === id)) {
      problems.push(`${where}: the key id "${id}" is used twice`);
      return;
    }
    keys.push({ id, key });
  });
  if (entries.length === 0) problems.push(`${source}: no key given`);
  return { keys, problems };
}

export interface SecretKeySettings {
  /** SECRETS_KEYS as set ('' or undefined when unset). */
  keys?: string | undefined;
  /** SECRETS_KEYS_FILE's name and text, when that setting is used. */
  file?: { name: string; text: string } | undefined;
  /** NODE_ENV=production: no development key. */
  production: boolean;
}

/** The key ring of the settings, or every problem with them (a service refuses to start on any). */
export function resolveSecretKeys(settings: SecretKeySettings): { ring?: SecretKeyRing; problems: string[] } {
  const inline = settings.keys?.trim() ? settings.keys : undefined;
  if (inline !== undefined && settings.file) return { problems: ['SECRETS_KEYS and SECRETS_KEYS_FILE are both set: use one of them'] };
  if (inline === undefined && !settings.file) {
    if (settings.production) return { problems: ['SECRETS_KEYS: required when NODE_ENV=production (or SECRETS_KEYS_FILE); see docs/secrets.md'] };
    return { ring: ringOf([DEVELOPMENT_SECRET_KEY], true), problems: [] };
  }
  const { keys, problems } =
    inline !== undefined ? parseSecretKeys(inline, 'SECRETS_KEYS') : parseSecretKeys(settings.file!.text, `SECRETS_KEYS_FILE (${settings.file!.name})`);
  if (problems.length > 0) return { problems };
  if (settings.production && keys.some((k) => k.key.equals(DEVELOPMENT_SECRET_KEY.key)))
    return { problems: ['SECRETS_KEYS: the development key is public and refused when NODE_ENV=production'] };
  return { ring: ringOf(keys, false), problems: [] };
}

/** A ring of `keys`, the first one encrypting. */
export function ringOf(keys: readonly SecretKey[], development = false): SecretKeyRing {
  if (keys.length === 0) throw new Error('a key ring needs at least one key');
  return { current: keys[0]!, byId: new Map(keys.map((k) => [k.id, k])), development };
}
