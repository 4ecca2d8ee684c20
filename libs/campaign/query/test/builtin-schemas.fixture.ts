// Test fixture: the built-in schemas compiled once per test file (reading files is for tests only: the
// library itself gets compiled schemas from its caller).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compileSchemas, type Schema, type SchemaSource } from '@cap/campaign-schema';

const BUILTIN = join(__dirname, '..', '..', 'schema', 'builtin');

export function builtinSources(): SchemaSource[] {
  return readdirSync(BUILTIN)
    .filter((f) => f.endsWith('.xml'))
    .sort()
    .map((file) => ({ file, text: readFileSync(join(BUILTIN, file), 'utf8') }));
}

/** Built-in schemas plus optional extra sources (a test's own schemas). */
export function compileBuiltinSchemas(extra: SchemaSource[] = []): Map<string, Schema> {
  return compileSchemas([...builtinSources(), ...extra]);
}
