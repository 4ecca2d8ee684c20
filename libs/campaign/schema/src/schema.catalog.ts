import { compileSchemas, type SchemaSource } from './schema.compiler';
import { SchemaError, type SchemaProblem } from './schema.errors';
import type { Schema } from './schema.model';
import { parseSrcSchema } from './src-schema.parser';

/** A source schema authored at run time (xtk:session#Write of an xtk:srcSchema): its id and its XML as written. */
export interface AuthoredSource {
  /** `namespace:name` of the srcSchema itself (`cus:recipient` for an extension of nms:recipient). */
  id: string;
  text: string;
}

/** The head of a srcSchema document: who it is and what it extends. */
export interface SrcSchemaHead {
  id: string;
  namespace: string;
  name: string;
  extendedSchema?: string;
}

/** Reads the id of a srcSchema document; a SchemaError lists what is wrong with it. */
export function readSrcSchemaHead(text: string, file = 'srcSchema'): SrcSchemaHead {
  const problems: SchemaProblem[] = [];
  const src = parseSrcSchema(file, text, problems);
  if (!src || problems.length > 0) throw new SchemaError(problems.length > 0 ? problems : [{ file, line: 1, message: 'not a srcSchema' }]);
  return { id: `${src.namespace}:${src.name}`, namespace: src.namespace, name: src.name, ...(src.extends ? { extendedSchema: src.extends } : {}) };
}

/** The name an authored source carries in compiler messages. */
export const authoredFile = (id: string): string => `authored ${id}`;

/**
 * The data model a service runs with: the schema files (built-ins and SCHEMA_DIRS) plus the source schemas authored
 * at run time. `schemas` is ONE map, shared by everything the service built at start (SOAP methods, RPC handlers):
 * installing an authored source recompiles the whole model and replaces the map's content in place, so every
 * later lookup sees the new schema (docs/schema-authoring.md).
 */
export interface SchemaCatalog {
  /** The compiled schemas, live. */
  readonly schemas: Map<string, Schema>;
  /** Ids of the srcSchemas defined by files: an authored schema may not take one of them. */
  readonly fileSchemaIds: ReadonlySet<string>;
  /** The srcSchema entity `id` as written (a file's or an authored one's text), or undefined. */
  sourceOf(id: string): { text: string; authored: boolean } | undefined;
  /** Every srcSchema id the catalog knows (files and authored). */
  sourceIds(): string[];
  /** The authored sources, by id. */
  authored(): AuthoredSource[];
  /** Compiles the files with these authored sources, without installing them (a SchemaError lists the problems). */
  compileWith(authored: readonly AuthoredSource[]): Map<string, Schema>;
  /** Installs a compiled model and its authored sources (from compileWith). */
  replace(authored: readonly AuthoredSource[], compiled: Map<string, Schema>): void;
  /** Adds or replaces authored sources (stored ones at start, an announcement): compiles and installs; no-op when known. */
  upsertAuthored(sources: readonly AuthoredSource[]): void;
}

export function createSchemaCatalog(fileSources: readonly SchemaSource[]): SchemaCatalog {
  const files = new Map<string, string>();
  for (const source of fileSources) {
    try {
      files.set(readSrcSchemaHead(source.text, source.file).id, source.text);
    } catch {
      // compileSchemas below reports the file's problems.
    }
  }
  const schemas = compileSchemas([...fileSources]);
  let authored = new Map<string, string>();
  const compileWith = (list: readonly AuthoredSource[]) => compileSchemas([...fileSources, ...list.map((a) => ({ file: authoredFile(a.id), text: a.text }))]);
  const catalog: SchemaCatalog = {
    schemas,
    fileSchemaIds: new Set(files.keys()),
    sourceOf(id) {
      const own = authored.get(id);
      if (own !== undefined) return { text: own, authored: true };
      const file = files.get(id);
      return file === undefined ? undefined : { text: file, authored: false };
    },
    sourceIds: () => [...new Set([...files.keys(), ...authored.keys()])],
    authored: () => [...authored].map(([id, text]) => ({ id, text })),
    compileWith,
    replace(list, compiled) {
      authored = new Map(list.map((a) => [a.id, a.text]));
      schemas.clear();
      for (const [id, schema] of compiled) schemas.set(id, schema);
    },
    upsertAuthored(sources) {
      if (sources.every((s) => authored.get(s.id) === s.text)) return; // already installed (this replica's own)
      const next = new Map(authored);
      for (const s of sources) next.set(s.id, s.text);
      const list = [...next].map(([id, text]) => ({ id, text }));
      catalog.replace(list, compileWith(list));
    },
  };
  return catalog;
}
