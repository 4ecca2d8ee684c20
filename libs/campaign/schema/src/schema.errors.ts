/** One problem in a schema source: which file, which line, which attribute, and what is wrong. */
export interface SchemaProblem {
  file: string;
  line: number;
  attribute?: string;
  message: string;
}

/** A schema (or set of schemas) that cannot be compiled; lists every problem found. */
export class SchemaError extends Error {
  constructor(readonly problems: SchemaProblem[]) {
    super(problems.map((p) => `${p.file}:${p.line}: ${p.attribute ? `${p.attribute}: ` : ''}${p.message}`).join('\n'));
    this.name = 'SchemaError';
  }
}
