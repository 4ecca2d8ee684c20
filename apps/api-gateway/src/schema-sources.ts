import { createHash } from 'node:crypto';
import type { SchemaCatalog } from '@cap/campaign-schema';

/** Upper-case hex MD5 of a source schema's text (as local-store stores it): the md5 of its xtk:srcSchema entity. */
export function sourceDigest(text: string): string {
  return createHash('md5').update(text).digest('hex').toUpperCase();
}

const digests = new WeakMap<object, Map<string, { text: string; md5: string }>>();

/** The srcSchema entity `id` as written and its md5 (memoised per text), or undefined when no such source exists. */
export function sourceDigestOf(catalog: SchemaCatalog, id: string): { text: string; md5: string } | undefined {
  const source = catalog.sourceOf(id);
  if (!source) return undefined;
  let memo = digests.get(catalog);
  if (!memo) digests.set(catalog, (memo = new Map()));
  const known = memo.get(id);
  if (known && known.text === source.text) return known;
  const entry = { text: source.text, md5: sourceDigest(source.text) };
  memo.set(id, entry);
  return entry;
}
