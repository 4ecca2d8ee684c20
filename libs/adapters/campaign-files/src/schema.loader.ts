import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { compileSchemas, type Schema, type SchemaSource } from '@cap/campaign-schema';
import { SOURCE_BUILTIN_SCHEMA_DIR } from './builtin.paths';

/** Every `*.xml` file under the given folders (recursively), named relative to its folder for messages. */
export function readSchemaSources(dirs: string[]): SchemaSource[] {
  const sources: SchemaSource[] = [];
  for (const dir of dirs) {
    if (!existsSync(dir)) throw new Error(`Schema folder ${dir} does not exist`);
    const walk = (folder: string) => {
      for (const entry of readdirSync(folder).sort()) {
        const path = join(folder, entry);
        if (statSync(path).isDirectory()) walk(path);
        else if (entry.endsWith('.xml')) sources.push({ file: relative(dir, path) || entry, text: readFileSync(path, 'utf8') });
      }
    };
    walk(dir);
  }
  return sources;
}

/** The built-in schemas shipped with the platform, in the source tree or beside an app bundle. */
export function findBuiltinSchemaDir(candidates: string[]): string {
  const found = candidates.find((dir) => existsSync(join(dir, 'xtk-session.xml')));
  if (!found) throw new Error(`Built-in schemas not found in ${candidates.join(', ')}`);
  return found;
}

/** Loads and compiles the built-in schemas plus a customer's folders (extensions and new namespaces). */
export function loadSchemaRegistry(options: { builtinDir: string; customDirs?: string[] }): Map<string, Schema> {
  return compileSchemas(readSchemaSources([options.builtinDir, ...(options.customDirs ?? [])]));
}

/**
 * The registry a service runs with: the built-ins (beside its bundle, or in the source tree when run with
 * tsx) plus the comma-separated SCHEMA_DIRS folders. Every service compiles the same data model.
 */
export function loadServiceSchemas(appDirname: string, schemaDirs: string): Map<string, Schema> {
  return compileSchemas(loadServiceSchemaSources(appDirname, schemaDirs));
}

/** The schema files a service runs with (built-ins, then SCHEMA_DIRS), uncompiled: what createSchemaCatalog starts from. */
export function loadServiceSchemaSources(appDirname: string, schemaDirs: string): SchemaSource[] {
  return readSchemaSources([
    findBuiltinSchemaDir([join(appDirname, 'schemas'), SOURCE_BUILTIN_SCHEMA_DIR]),
    ...schemaDirs
      .split(',')
      .map((d) => d.trim())
      .filter(Boolean),
  ]);
}
