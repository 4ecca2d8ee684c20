import { type Link, quoteIdent, type Schema } from '@cap/campaign-schema';
import { getSchemaIndex, type SchemaIndex } from './schema.index';
import type { StatementBuilder } from './statement.builder';

export interface Join {
  readonly alias: string;
  readonly schema: Schema;
  readonly sql: string;
}

/**
 * One FROM clause: a root table and the LEFT JOINs its expressions needed, one per distinct single-link
 * path. `parent` is the enclosing query, reached with `..` in paths.
 */
export class QueryScope {
  readonly index: SchemaIndex;
  private readonly joins: Join[] = [];
  private readonly joinsByPath = new Map<string, Join>();

  constructor(
    readonly builder: StatementBuilder,
    readonly schema: Schema,
    readonly alias: string,
    readonly parent?: QueryScope,
  ) {
    this.index = getSchemaIndex(schema);
  }

  /** The join for a single link followed from `owner` (the root or an earlier join), created once per path. */
  join(pathKey: string, ownerAlias: string, ownerSchema: Schema, link: Link): Join {
    const existing = this.joinsByPath.get(pathKey);
    if (existing) return existing;
    const target = this.builder.queryableSchema(link.target, `link '${link.name}' of ${ownerSchema.id}`);
    const alias = this.builder.joinAlias();
    const on = QueryScope.joinCondition(link, ownerAlias, ownerSchema, alias, target);
    const join: Join = { alias, schema: target, sql: `LEFT JOIN ${quoteIdent(target.table)} AS ${quoteIdent(alias)} ON ${on}` };
    this.joins.push(join);
    this.joinsByPath.set(pathKey, join);
    return join;
  }

  /** `"nms_recipient" AS "r0" LEFT JOIN …` (render after every expression of the scope was compiled). */
  from(): string {
    const root = `${quoteIdent(this.schema.table)} AS ${quoteIdent(this.alias)}`;
    return this.joins.length === 0 ? root : `${root} ${this.joins.map((j) => j.sql).join(' ')}`;
  }

  /** `"t0"."id" = "r0"."folder_id"` (several pairs joined with AND); both sides are columns of compiled schemas. */
  static joinCondition(link: Link, ownerAlias: string, ownerSchema: Schema, targetAlias: string, target: Schema): string {
    const owner = getSchemaIndex(ownerSchema);
    const other = getSchemaIndex(target);
    return link.joins
      .map((pair) => {
        const src = owner.fields.get(pair.src);
        const dst = other.fields.get(pair.dst);
        if (!src || !dst) throw new Error(`compiled schema ${ownerSchema.id}: link '${link.name}' joins unknown fields ${pair.src} → ${pair.dst}`);
        return `${quoteIdent(targetAlias)}.${quoteIdent(dst.column)} = ${quoteIdent(ownerAlias)}.${quoteIdent(src.column)}`;
      })
      .join(' AND ');
  }
}
