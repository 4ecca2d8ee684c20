import { TemplateError } from './template.error';

/**
 * Personalised content, Campaign style: text with `<%= expression %>` (the value, HTML-escaped) and
 * `<%== expression %>` (the value as is). Expressions are parsed here, never evaluated as code:
 *
 *   expression := alternative ('||' alternative)*          first non-empty value wins
 *   alternative := path | 'text' | "text" | number | call
 *   path        := root ('.' ['@'] name)*                   recipient.firstName, ctx.order.@id, rtEvent.ctx.x
 *   call        := function '(' expression (',' expression)* ')'
 *
 * Functions: formatDate(value[, format]) with Campaign's %2D %2M %4Y %2H %2N %2S, upper, lower, escapeUrl.
 * A value is looked up in the message's data (plain objects): a name the data does not have is an error for
 * that message (`missing-value`) unless an alternative follows `||`; a field that exists but is empty renders ''.
 */

export type TemplateExpr =
  | { kind: 'path'; root: string; segments: string[]; text: string; line: number; column: number }
  | { kind: 'literal'; value: string }
  | { kind: 'call'; fn: TemplateFunction; args: TemplateExpr[]; line: number; column: number }
  | { kind: 'or'; options: TemplateExpr[] };

export type TemplatePart = { kind: 'text'; text: string } | { kind: 'value'; expr: TemplateExpr; raw: boolean };

export interface CompiledTemplate {
  readonly source: string;
  readonly parts: readonly TemplatePart[];
}

/** The data a message is rendered with: one plain object per root (recipient, ctx, delivery…). */
export type RenderData = Readonly<Record<string, unknown>>;

export type TemplateFunction = 'formatDate' | 'upper' | 'lower' | 'escapeUrl';

const FUNCTIONS: Record<TemplateFunction, { min: number; max: number }> = {
  formatDate: { min: 1, max: 2 },
  upper: { min: 1, max: 1 },
  lower: { min: 1, max: 1 },
  escapeUrl: { min: 1, max: 1 },
};

/** Roots as Campaign's message-center templates write them: `rtEvent.ctx.x` is `ctx.x`, `rtEvent.email` is `event.email`. */
const EVENT_ROOTS = new Set(['rtEvent', 'batchEvent']);

const MAX_TEMPLATE_LENGTH = 1024 * 1024;
const MAX_EXPRESSION_LENGTH = 1_000;

/** Parses a template; throws TemplateError (`syntax`) with the line and column of the first problem. */
export function compileTemplate(source: string): CompiledTemplate {
  if (source.length > MAX_TEMPLATE_LENGTH) throw new TemplateError('syntax', `the template is longer than ${MAX_TEMPLATE_LENGTH} characters`);
  const parts: TemplatePart[] = [];
  let at = 0;
  while (at < source.length) {
    const open = source.indexOf('<%', at);
    if (open < 0) {
      parts.push({ kind: 'text', text: source.slice(at) });
      break;
    }
    if (open > at) parts.push({ kind: 'text', text: source.slice(at, open) });
    const { line, column } = position(source, open);
    let start: number;
    let raw: boolean;
    if (source.startsWith('<%==', open)) {
      start = open + 4;
      raw = true;
    } else if (source.startsWith('<%=', open)) {
      start = open + 3;
      raw = false;
    } else {
      throw new TemplateError('syntax', "only '<%= value %>' and '<%== value %>' are supported (no script blocks)", line, column);
    }
    const close = source.indexOf('%>', start);
    if (close < 0) throw new TemplateError('syntax', "'<%=' is not closed by '%>'", line, column);
    const text = source.slice(start, close);
    if (text.length > MAX_EXPRESSION_LENGTH)
      throw new TemplateError('syntax', `an expression is longer than ${MAX_EXPRESSION_LENGTH} characters`, line, column);
    parts.push({ kind: 'value', expr: new ExpressionParser(text, line, column).parse(), raw });
    at = close + 2;
  }
  return { source, parts: mergeText(parts) };
}

/**
 * Checks every path of a template against the fields a root is known to have (for recipients: the schema's
 * fields), so a misspelt field is refused before anything is sent. Roots not listed are not checked
 * (event data is free-form); roots that are neither listed nor in `freeRoots` are unknown.
 */
export function checkTemplatePaths(
  template: CompiledTemplate,
  known: { fields: Readonly<Record<string, ReadonlySet<string>>>; freeRoots: readonly string[] },
): void {
  const visit = (e: TemplateExpr) => {
    if (e.kind === 'path') {
      const root = canonicalRoot(e);
      const fields = known.fields[root.root];
      if (fields) {
        const path = root.segments.map(stripAt).join('.');
        if (!fields.has(path)) throw new TemplateError('unknown-field', `'${e.text}' is not a field of ${root.root}`, e.line, e.column);
      } else if (!known.freeRoots.includes(root.root)) {
        const roots = [...Object.keys(known.fields), ...known.freeRoots].join(', ');
        throw new TemplateError('unknown-field', `'${e.root}' is not something a template can use here (use ${roots})`, e.line, e.column);
      }
    } else if (e.kind === 'call') e.args.forEach(visit);
    else if (e.kind === 'or') e.options.forEach(visit);
  };
  for (const part of template.parts) if (part.kind === 'value') visit(part.expr);
}

/** Renders a template with one message's data; throws TemplateError for a value that cannot be rendered. */
export function renderTemplate(template: CompiledTemplate, data: RenderData, options: { escape: 'html' | 'none' }): string {
  let out = '';
  for (const part of template.parts) {
    if (part.kind === 'text') out += part.text;
    else {
      const value = evaluate(part.expr, data);
      out += part.raw || options.escape === 'none' ? value : escapeHtml(value);
    }
  }
  return out;
}

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

function mergeText(parts: TemplatePart[]): TemplatePart[] {
  const out: TemplatePart[] = [];
  for (const p of parts) {
    const last = out[out.length - 1];
    if (p.kind === 'text' && last?.kind === 'text') out[out.length - 1] = { kind: 'text', text: last.text + p.text };
    else out.push(p);
  }
  return out;
}

function position(source: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = source.indexOf('\n'); i >= 0 && i < offset; i = source.indexOf('\n', i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return { line, column: offset - lineStart + 1 };
}

function stripAt(segment: string): string {
  return segment.startsWith('@') ? segment.slice(1) : segment;
}

/** `rtEvent.ctx.x` is `ctx.x`; `rtEvent.email` is `event.email`. */
function canonicalRoot(e: Extract<TemplateExpr, { kind: 'path' }>): { root: string; segments: string[] } {
  if (EVENT_ROOTS.has(e.root)) return e.segments[0] === 'ctx' ? { root: 'ctx', segments: e.segments.slice(1) } : { root: 'event', segments: e.segments };
  return { root: e.root, segments: e.segments };
}

// ─── expressions ────────────────────────────────────────────────────────────────────────────────────────────

type Token = { type: 'name' | 'string' | 'number' | 'punct'; value: string; offset: number };

class ExpressionParser {
  private readonly tokens: Token[];
  private i = 0;

  constructor(
    private readonly text: string,
    private readonly line: number,
    private readonly column: number,
  ) {
    this.tokens = this.tokenize();
  }

  private fail(message: string): never {
    throw new TemplateError('syntax', `${message} in '<%=${this.text}%>'`, this.line, this.column);
  }

  private tokenize(): Token[] {
    const out: Token[] = [];
    const s = this.text;
    let i = 0;
    while (i < s.length) {
      const c = s[i]!;
      if (/\s/.test(c)) {
        i++;
      } else if (/[A-Za-z_]/.test(c)) {
        const m = /^[A-Za-z_][A-Za-z0-9_-]*/.exec(s.slice(i))!;
        out.push({ type: 'name', value: m[0], offset: i });
        i += m[0].length;
      } else if (/[0-9]/.test(c)) {
        const m = /^[0-9]+(\.[0-9]+)?/.exec(s.slice(i))!;
        out.push({ type: 'number', value: m[0], offset: i });
        i += m[0].length;
      } else if (c === "'" || c === '"') {
        let value = '';
        let j = i + 1;
        for (; j < s.length && s[j] !== c; j++) {
          if (s[j] === '\\' && j + 1 < s.length) j++;
          value += s[j];
        }
        if (j >= s.length) this.fail('unterminated string');
        out.push({ type: 'string', value, offset: i });
        i = j + 1;
      } else if (s.startsWith('||', i)) {
        out.push({ type: 'punct', value: '||', offset: i });
        i += 2;
      } else if ('.@(),'.includes(c)) {
        out.push({ type: 'punct', value: c, offset: i });
        i++;
      } else {
        this.fail(`unexpected '${c}'`);
      }
    }
    return out;
  }

  private peek(): Token | undefined {
    return this.tokens[this.i];
  }

  private take(value?: string): Token {
    const t = this.tokens[this.i];
    if (!t) this.fail(value ? `expected '${value}' at the end` : 'unexpected end');
    if (value !== undefined && t.value !== value) this.fail(`expected '${value}' but found '${t.value}'`);
    this.i++;
    return t;
  }

  parse(): TemplateExpr {
    if (this.tokens.length === 0) this.fail('empty expression');
    const e = this.expression();
    const rest = this.peek();
    if (rest) this.fail(`unexpected '${rest.value}'`);
    return e;
  }

  private expression(): TemplateExpr {
    const options = [this.alternative()];
    while (this.peek()?.value === '||') {
      this.take();
      options.push(this.alternative());
    }
    return options.length === 1 ? options[0]! : { kind: 'or', options };
  }

  private alternative(): TemplateExpr {
    const t = this.take();
    if (t.type === 'string' || t.type === 'number') return { kind: 'literal', value: t.value };
    if (t.type !== 'name') this.fail(`unexpected '${t.value}'`);
    if (this.peek()?.value === '(') {
      if (!Object.hasOwn(FUNCTIONS, t.value)) this.fail(`unknown function '${t.value}' (${Object.keys(FUNCTIONS).join(', ')})`);
      const fn = t.value as TemplateFunction;
      this.take('(');
      const args = [this.expression()];
      while (this.peek()?.value === ',') {
        this.take();
        args.push(this.expression());
      }
      this.take(')');
      const arity = FUNCTIONS[fn];
      if (args.length < arity.min || args.length > arity.max)
        this.fail(`${fn} takes ${arity.min === arity.max ? arity.min : `${arity.min} or ${arity.max}`} argument(s)`);
      return { kind: 'call', fn, args, line: this.line, column: this.column };
    }
    const segments: string[] = [];
    const start = t.offset;
    let end = t.offset + t.value.length;
    while (this.peek()?.value === '.') {
      this.take();
      let at = '';
      if (this.peek()?.value === '@') {
        this.take();
        at = '@';
      }
      const name = this.take();
      if (name.type !== 'name') this.fail(`expected a name after '.' but found '${name.value}'`);
      segments.push(at + name.value);
      end = name.offset + name.value.length;
    }
    return { kind: 'path', root: t.value, segments, text: this.text.slice(start, end), line: this.line, column: this.column };
  }
}

// ─── evaluation ─────────────────────────────────────────────────────────────────────────────────────────────

function evaluate(e: TemplateExpr, data: RenderData): string {
  switch (e.kind) {
    case 'literal':
      return e.value;
    case 'path':
      return lookup(e, data);
    case 'or':
      // The first non-empty alternative; a value missing from the data counts as empty here.
      for (const option of e.options) {
        try {
          const v = evaluate(option, data);
          if (v !== '') return v;
        } catch (err) {
          if (!(err instanceof TemplateError) || err.kind !== 'missing-value') throw err;
        }
      }
      return '';
    case 'call':
      return call(e, data);
  }
}

function lookup(e: Extract<TemplateExpr, { kind: 'path' }>, data: RenderData): string {
  const { root, segments } = canonicalRoot(e);
  if (!Object.hasOwn(data, root)) throw new TemplateError('missing-value', `'${e.text}' is not available in this message`, e.line, e.column);
  let value: unknown = data[root];
  for (const segment of segments) {
    const name = stripAt(segment);
    if (value === null || value === undefined) return '';
    if (typeof value !== 'object' || !Object.hasOwn(value, name)) {
      throw new TemplateError('missing-value', `'${e.text}' is not in the data of this message`, e.line, e.column);
    }
    value = (value as Record<string, unknown>)[name];
  }
  return toText(value, e);
}

function toText(value: unknown, e: Extract<TemplateExpr, { kind: 'path' }>): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  if (typeof value === 'boolean') return value ? '1' : '0';
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'object' && Object.hasOwn(value, '#text')) return String((value as Record<string, unknown>)['#text']);
  throw new TemplateError(
    'missing-value',
    `'${e.text}' is a group of values, not a value: name one of ${Object.keys(value as object).join(', ')}`,
    e.line,
    e.column,
  );
}

function call(e: Extract<TemplateExpr, { kind: 'call' }>, data: RenderData): string {
  const args = e.args.map((a) => evaluate(a, data));
  const first = args[0]!;
  switch (e.fn) {
    case 'upper':
      return first.toUpperCase();
    case 'lower':
      return first.toLowerCase();
    case 'escapeUrl':
      return encodeURIComponent(first);
    case 'formatDate':
      return formatDate(first, args[1] ?? '%4Y-%2M-%2D', e);
  }
}

function formatDate(value: string, format: string, e: Extract<TemplateExpr, { kind: 'call' }>): string {
  const what = e.args[0]!.kind === 'path' ? `'${(e.args[0] as { text: string }).text}'` : 'its argument';
  if (value === '') throw new TemplateError('function', `formatDate: ${what} is empty`, e.line, e.column);
  const date = new Date(/^\d{4}-\d{2}-\d{2}$/.test(value) ? `${value}T00:00:00Z` : value);
  if (Number.isNaN(date.getTime())) throw new TemplateError('function', `formatDate: ${what} is not a date ('${value.slice(0, 40)}')`, e.line, e.column);
  const pad = (n: number, width: number) => String(n).padStart(width, '0');
  const parts: Record<string, string> = {
    '%4Y': pad(date.getUTCFullYear(), 4),
    '%2Y': pad(date.getUTCFullYear() % 100, 2),
    '%2M': pad(date.getUTCMonth() + 1, 2),
    '%2D': pad(date.getUTCDate(), 2),
    '%2H': pad(date.getUTCHours(), 2),
    '%2N': pad(date.getUTCMinutes(), 2),
    '%2S': pad(date.getUTCSeconds(), 2),
  };
  return format.replace(/%[24][YMDHNS]/g, (m) => parts[m] ?? m);
}
