import { randomBytes } from 'node:crypto';

/** A name no other test (or test run) uses: `<prefix>_<time><random>`, safe for DB, topic and key names. */
export function uniqueId(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}${randomBytes(4).toString('hex')}`.toLowerCase();
}
