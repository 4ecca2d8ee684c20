import { join } from 'node:path';

/** Where the built-in schema XML files are in the source tree (apps copy them beside their bundle). */
export const SOURCE_BUILTIN_SCHEMA_DIR = join(__dirname, '..', '..', '..', 'campaign', 'schema', 'builtin');
