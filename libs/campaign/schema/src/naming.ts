const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function isIdentifier(name: string): boolean {
  return IDENT.test(name);
}

/** `firstName` → `first_name`, `broadLogRcp` → `broad_log_rcp`, `HTTPCode` → `http_code`. */
export function snakeCase(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1_$2')
    .replace(/-/g, '_')
    .toLowerCase();
}

export function tableName(namespace: string, name: string): string {
  return `${namespace.toLowerCase()}_${snakeCase(name)}`;
}

/** Column for a value at `path` (elements) + `name`: `location/@city` → `location_city`. */
export function columnName(path: string[], name: string): string {
  return [...path, name].map(snakeCase).join('_');
}
