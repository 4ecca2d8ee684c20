// Test fixture: the built-in schemas compiled once per test file (reading files is for tests only: the
// library itself gets compiled schemas from its caller).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compileSchemas, type Schema } from '@cap/campaign-schema';

const BUILTIN = join(__dirname, '..', '..', 'schema', 'builtin');

export function compileBuiltinSchemas(): Map<string, Schema> {
  return compileSchemas(
    readdirSync(BUILTIN)
      .filter((f) => f.endsWith('.xml'))
      .sort()
      .map((file) => ({ file, text: readFileSync(join(BUILTIN, file), 'utf8') })),
  );
}
