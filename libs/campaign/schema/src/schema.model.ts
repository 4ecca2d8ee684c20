/**
 * The compiled data model: what every Campaign API needs to know about a schema. Produced from srcSchema
 * XML by compileSchemas(); never re-parsed per request.
 */

/** XTK data types of attributes. */
export type XtkType = 'string' | 'memo' | 'long' | 'int64' | 'short' | 'byte' | 'boolean' | 'double' | 'datetime' | 'date' | 'uuid';

export const XTK_TYPES: readonly XtkType[] = ['string', 'memo', 'long', 'int64', 'short', 'byte', 'boolean', 'double', 'datetime', 'date', 'uuid'];

/**
 * Where a schema's rows live (docs/architecture.md#2-where-a-schema-lives): `local` (local DB only), `replicated` (local master, one-way
 * copy in the cloud DB), `cloud` (cloud DB), `staging` (generated `…Stg` table in the local DB).
 */
export type Placement = 'local' | 'replicated' | 'cloud' | 'staging';

/** Which database a table exists in. */
export type Database = 'local' | 'cloud';

export interface SourceRef {
  file: string;
  line: number;
}

export interface EnumValue {
  name: string;
  value: string;
  label: string;
}

export interface Enumeration {
  /** Name within its schema (`gender`); its global id is `<schemaId>:<name>` (`nms:recipient:gender`). */
  name: string;
  id: string;
  basetype: XtkType;
  default?: string;
  label: string;
  values: EnumValue[];
}

/** A value-carrying node: an attribute (`@email`, `location/@city`) or a text element (`comment`). */
export interface Field {
  /** XPath relative to the schema's main element: `@email`, `location/@city`, `comment`. */
  xpath: string;
  name: string;
  /** Element path above the value (`['location']` for `location/@city`). */
  path: string[];
  /** True for text elements (`<comment>text</comment>`), false for attributes. */
  isElement: boolean;
  type: XtkType;
  length?: number;
  /** Global enumeration id, when the field takes enumerated values. */
  enumId?: string;
  default?: string;
  /** `defOnDuplicate="true"`: xtk:persist#Duplicate gives the copy the default (or nothing), never the original's value. */
  defOnDuplicate?: boolean;
  notNull: boolean;
  label: string;
  /** Column in the schema's table. */
  column: string;
  /** Set by the server: callers' values are ignored (created, lastModified, createdBy-id). */
  serverManaged: boolean;
  source: SourceRef;
}

export interface JoinPair {
  /** XPath on the source side (`@folder-id`). */
  src: string;
  /** XPath on the target side (`@id`). */
  dst: string;
}

export interface Link {
  name: string;
  /** Target schema id (`xtk:folder`). */
  target: string;
  /** `single`: N-1 or 1-1, the foreign key is on this side. `collection`: 1-N, the key is on the target's side. */
  cardinality: 'single' | 'collection';
  /** Name of the reverse link on the target, when declared or generated. */
  revLink?: string;
  joins: JoinPair[];
  label: string;
  source: SourceRef;
}

export interface Key {
  name: string;
  internal: boolean;
  /** XPaths of the key's fields, in order (`@email`, `@folder-id`). */
  fields: string[];
}

export type ParamType = 'string' | 'boolean' | 'byte' | 'short' | 'long' | 'int64' | 'datetime' | 'date' | 'DOMElement' | 'DOMDocument' | 'primarykey' | string;

export interface MethodParam {
  name: string;
  type: ParamType;
  inout: 'in' | 'out' | 'inout';
  desc?: string;
}

export interface Method {
  name: string;
  static: boolean;
  const: boolean;
  params: MethodParam[];
  /** Name of the interface it belongs to (`persist`), when declared in an <interface>. */
  interface?: string;
}

export interface Schema {
  /** `ns:name`. */
  id: string;
  namespace: string;
  name: string;
  label: string;
  labelSingular: string;
  placement: Placement;
  /** False for API-only schemas without rows (xtk:session, xtk:queryDef): no table anywhere. */
  persistent: boolean;
  /** Databases holding this schema's table (empty when not persistent). */
  databases: Database[];
  /** SQL table name (validated identifier). */
  table: string;
  /** Primary key: generated 64-bit sequence (local/replicated) or UUID text (cloud, staging). */
  primaryKey: { xpath: string; column: string; kind: 'sequence' | 'uuid' } | undefined;
  fields: Field[];
  links: Link[];
  keys: Key[];
  enumerations: Enumeration[];
  methods: Method[];
  /** `implements="xtk:persist"`: entity schemas the SDK writes through xtk:persist. */
  implementsPersist: boolean;
  autoStg: boolean;
  /** For a generated staging schema: the cloud schema it stages. */
  stagingOf?: string;
  /** For a staged cloud schema: its generated staging schema id. */
  stagingSchema?: string;
  /**
   * Named rights an operator needs to create, update or delete this schema's records (Campaign's
   * `<sysFilter name="writeAccess">` with `hasNamedRight('…')=false` conditions); `admin` holds every right.
   * Empty: any operator may write. Enforced by every service that writes records (libs/campaign/write).
   */
  writeRights: string[];
  /** Files that defined or extended it. */
  sources: string[];
}
