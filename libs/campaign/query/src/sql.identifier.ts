/** Quotes an identifier taken from a compiled schema (never from request text). */
export function quoteIdent(name: string): string {
  return name.includes('"') ? `"${name.replace(/"/g, '""')}"` : `"${name}"`;
}
