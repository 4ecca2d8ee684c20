import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '@cap/platform-config';

/** Process entry: an invalid configuration prints every problem and exits 1; anything else is rethrown. */
export function runMain(main: () => void): void {
  try {
    main();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
}

/** A folder shipped beside the app: next to the bundle in dist/, one level up from src/ in development. */
export function findAppFolder(dirname: string, folder: string): string {
  const bundled = join(dirname, folder);
  return existsSync(bundled) ? bundled : join(dirname, '..', folder);
}
