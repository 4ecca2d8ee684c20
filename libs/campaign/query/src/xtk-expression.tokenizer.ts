import type { PathSegment } from './xtk-expression.ast';
import { XtkExpressionError } from './xtk-expression.error';

export type OperatorToken = '=' | '<>' | '!=' | '<' | '<=' | '>' | '>=' | '+' | '-' | '*' | '/' | '(' | ')' | ',';

/** Positions are 1-based. */
export type Token =
  /** A bare identifier: keyword, function name or one-segment path (`comment`, `subscription`). */
  | { readonly kind: 'name'; readonly value: string; readonly pos: number }
  | { readonly kind: 'path'; readonly segments: readonly PathSegment[]; readonly text: string; readonly pos: number }
  | { readonly kind: 'string'; readonly value: string; readonly pos: number }
  | { readonly kind: 'number'; readonly value: string; readonly pos: number }
  | { readonly kind: 'date'; readonly value: string; readonly hasTime: boolean; readonly pos: number }
  | { readonly kind: 'op'; readonly value: OperatorToken; readonly pos: number }
  | { readonly kind: 'eof'; readonly pos: number };

const C_TAB = 9;
const C_LF = 10;
const C_CR = 13;
const C_SPACE = 32;

function isNameStart(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95; // A-Z a-z _
}

function isNamePart(c: number): boolean {
  return isNameStart(c) || (c >= 48 && c <= 57);
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function describe(ch: string): string {
  const cp = ch.codePointAt(0)!;
  const hex = `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`;
  if (cp < 32 || cp === 127) return `control character ${hex}`;
  return cp > 127 ? `character '${ch}' (${hex})` : `character '${ch}'`;
}

// `#2024-12-01#`, `#2002/02/01#`, `#2024-12-01 10:00:00#`, `#2024-12-01T10:00:00.123Z#`
const DATE_LITERAL = /^(\d{4})[-/](\d{1,2})[-/](\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?)?Z?$/;

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

function fail(expr: string, what: string, at: number, token = ''): never {
  throw XtkExpressionError.syntax(expr, what, at + 1, token);
}

function readName(expr: string, start: number): number {
  let j = start + 1;
  for (;;) {
    const c = expr.charCodeAt(j);
    if (isNamePart(c)) j++;
    // `-` belongs to a name when a letter follows (`@folder-id`); `@age-1` is a subtraction.
    else if (c === 45 && isNameStart(expr.charCodeAt(j + 1))) j += 2;
    else return j;
  }
}

/** Reads a path from `start`; `bracketed` paths may continue after `/` with anything path-like. */
function readPath(expr: string, start: number, bracketed: boolean): { segments: PathSegment[]; end: number } {
  const segments: PathSegment[] = [];
  let j = start;
  let named = false;
  for (;;) {
    const c = expr.charCodeAt(j);
    if (c === 64 /* @ */) {
      if (!isNameStart(expr.charCodeAt(j + 1))) fail(expr, `expected an attribute name after '@'`, j, '@');
      const end = readName(expr, j + 1);
      segments.push({ kind: 'attribute', name: expr.slice(j + 1, end), pos: j + 1 });
      return { segments, end };
    }
    if (c === 46 /* . */ && expr.charCodeAt(j + 1) === 46) {
      if (named) fail(expr, `'..' is only allowed at the start of a path`, j, '..');
      segments.push({ kind: 'parent', pos: j + 1 });
      j += 2;
    } else if (isNameStart(c)) {
      const end = readName(expr, j);
      segments.push({ kind: 'element', name: expr.slice(j, end), pos: j + 1 });
      named = true;
      j = end;
    } else {
      fail(expr, 'expected a name in path', j, expr.charAt(j));
    }
    if (expr.charCodeAt(j) !== 47 /* / */) break;
    const next = expr.charCodeAt(j + 1);
    if (!bracketed && !(next === 64 || next === 46 || isNameStart(next))) break;
    j++;
  }
  const last = segments[segments.length - 1];
  if (last?.kind === 'parent') fail(expr, `'..' must be followed by a name`, j, '..');
  return { segments, end: j };
}

/**
 * Splits an XTK expression into tokens. Only the characters of the language are accepted outside string
 * literals: SQL comments (`--`, `/*`), statement separators (`;`), casts and qualified names (`:`), quoted
 * identifiers, template parameters (`$(…)`), native SQL (`[SQLDATA[`), control characters and any non-ASCII
 * character (fullwidth quotes, homoglyphs, odd spaces) are refused with the position where they start.
 */
export function tokenizeExpression(expr: string): Token[] {
  const tokens: Token[] = [];
  const n = expr.length;
  let i = 0;

  while (i < n) {
    const c = expr.charCodeAt(i);
    if (c === C_SPACE || c === C_TAB || c === C_LF || c === C_CR) {
      i++;
      continue;
    }
    const pos = i + 1;

    // String literal: '…' with \' and '' for a quote and \\ for a backslash (what the SDK's escapeXtk emits).
    if (c === 39 /* ' */) {
      let j = i + 1;
      let value = '';
      let from = j;
      for (;;) {
        if (j >= n) fail(expr, 'unterminated string literal', i, "'");
        const d = expr.charCodeAt(j);
        if (d === 0) fail(expr, 'NUL character in string literal', j);
        if (d === 92 /* \ */) {
          const e = expr.charCodeAt(j + 1);
          if (e === 39 || e === 92) {
            value += expr.slice(from, j) + String.fromCharCode(e);
            j += 2;
            from = j;
            continue;
          }
          j++; // any other backslash stays as written (LIKE escapes such as \% and \_)
          continue;
        }
        if (d === 39) {
          if (expr.charCodeAt(j + 1) === 39) {
            value += expr.slice(from, j) + "'";
            j += 2;
            from = j;
            continue;
          }
          value += expr.slice(from, j);
          break;
        }
        j++;
      }
      tokens.push({ kind: 'string', value, pos });
      i = j + 1;
      continue;
    }

    if (isDigit(c)) {
      let j = i;
      while (isDigit(expr.charCodeAt(j))) j++;
      if (expr.charCodeAt(j) === 46 /* . */ && isDigit(expr.charCodeAt(j + 1))) {
        j++;
        while (isDigit(expr.charCodeAt(j))) j++;
      }
      const e = expr.charCodeAt(j);
      if (e === 101 || e === 69) {
        let k = j + 1;
        const sign = expr.charCodeAt(k);
        if (sign === 43 || sign === 45) k++;
        if (!isDigit(expr.charCodeAt(k))) fail(expr, 'invalid number', i, expr.slice(i, k));
        while (isDigit(expr.charCodeAt(k))) k++;
        j = k;
      }
      const after = expr.charCodeAt(j);
      if (isNameStart(after) || after === 46 || after === 64) fail(expr, 'invalid number', i, expr.slice(i, j + 1));
      tokens.push({ kind: 'number', value: expr.slice(i, j), pos });
      i = j;
      continue;
    }

    if (c === 35 /* # */) {
      const close = expr.indexOf('#', i + 1);
      if (close < 0 || close - i > 40) fail(expr, 'unterminated date literal', i, '#');
      const text = expr.slice(i + 1, close);
      const m = DATE_LITERAL.exec(text.trim());
      if (!m) fail(expr, `invalid date literal '#${text}#'`, i, `#${text}#`);
      const [, y, mo, d, h, mi, s, frac] = m!;
      const year = Number(y);
      const month = Number(mo);
      const day = Number(d);
      const hour = h === undefined ? 0 : Number(h);
      const minute = mi === undefined ? 0 : Number(mi);
      const second = s === undefined ? 0 : Number(s);
      const ms = frac === undefined ? 0 : Math.floor(Number(`0.${frac}`) * 1000);
      const date = new Date(Date.UTC(year, month - 1, day, hour, minute, second, ms));
      if (date.getUTCFullYear() !== year || date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day || hour > 23 || minute > 59 || second > 59) {
        fail(expr, `invalid date literal '#${text}#'`, i, `#${text}#`);
      }
      const hasTime = h !== undefined;
      const value = hasTime ? date.toISOString() : `${pad(year, 4)}-${pad(month)}-${pad(day)}`;
      tokens.push({ kind: 'date', value, hasTime, pos });
      i = close + 1;
      continue;
    }

    if (c === 91 /* [ */) {
      let j = i + 1;
      while (expr.charCodeAt(j) === C_SPACE) j++;
      if (expr.slice(j, j + 8).toUpperCase() === 'SQLDATA[') fail(expr, 'native SQL [SQLDATA[…]] is not allowed', i, '[SQLDATA[');
      const { segments, end } = readPath(expr, j, true);
      let k = end;
      while (expr.charCodeAt(k) === C_SPACE) k++;
      if (expr.charCodeAt(k) === 58 /* : */) fail(expr, `schema-qualified paths ('[schema:alias:xpath]') are not supported`, k, ':');
      if (expr.charCodeAt(k) !== 93 /* ] */) fail(expr, `expected ']'`, k, expr.charAt(k));
      tokens.push({ kind: 'path', segments, text: expr.slice(j, end), pos });
      i = k + 1;
      continue;
    }

    if (c === 64 /* @ */ || (c === 46 && expr.charCodeAt(i + 1) === 46)) {
      const { segments, end } = readPath(expr, i, false);
      tokens.push({ kind: 'path', segments, text: expr.slice(i, end), pos });
      i = end;
      continue;
    }

    if (isNameStart(c)) {
      const end = readName(expr, i);
      const next = expr.charCodeAt(end + 1);
      if (expr.charCodeAt(end) === 47 /* / */ && (next === 64 || isNameStart(next))) {
        const path = readPath(expr, i, false);
        tokens.push({ kind: 'path', segments: path.segments, text: expr.slice(i, path.end), pos });
        i = path.end;
      } else {
        tokens.push({ kind: 'name', value: expr.slice(i, end), pos });
        i = end;
      }
      continue;
    }

    const next = expr.charCodeAt(i + 1);
    switch (c) {
      case 61: // =
        tokens.push({ kind: 'op', value: '=', pos });
        i++;
        continue;
      case 60: // < <= <>
        if (next === 61 || next === 62) {
          tokens.push({ kind: 'op', value: next === 61 ? '<=' : '<>', pos });
          i += 2;
        } else {
          tokens.push({ kind: 'op', value: '<', pos });
          i++;
        }
        continue;
      case 62: // > >=
        if (next === 61) {
          tokens.push({ kind: 'op', value: '>=', pos });
          i += 2;
        } else {
          tokens.push({ kind: 'op', value: '>', pos });
          i++;
        }
        continue;
      case 33: // !=
        if (next !== 61) fail(expr, `unexpected character '!'`, i, '!');
        tokens.push({ kind: 'op', value: '!=', pos });
        i += 2;
        continue;
      case 45: // -
        if (next === 45) fail(expr, `SQL comment '--' is not allowed`, i, '--');
        tokens.push({ kind: 'op', value: '-', pos });
        i++;
        continue;
      case 47: // /
        if (next === 42) fail(expr, `SQL comment '/*' is not allowed`, i, '/*');
        tokens.push({ kind: 'op', value: '/', pos });
        i++;
        continue;
      case 42: // *
        if (next === 47) fail(expr, `SQL comment '*/' is not allowed`, i, '*/');
        tokens.push({ kind: 'op', value: '*', pos });
        i++;
        continue;
      case 43: // +
      case 40: // (
      case 41: // )
      case 44: // ,
        tokens.push({ kind: 'op', value: expr.charAt(i) as OperatorToken, pos });
        i++;
        continue;
      case 59:
        return fail(expr, `statement separator ';' is not allowed`, i, ';');
      case 58:
        return fail(expr, next === 58 ? `casts '::' are not allowed` : `unexpected character ':'`, i, next === 58 ? '::' : ':');
      case 36:
        return fail(expr, `template parameters '$(…)' are not supported`, i, '$');
      case 34:
        return fail(expr, `quoted identifiers are not allowed`, i, '"');
      default: {
        const ch = String.fromCodePoint(expr.codePointAt(i)!);
        return fail(expr, `unexpected ${describe(ch)}`, i, ch);
      }
    }
  }
  tokens.push({ kind: 'eof', pos: n + 1 });
  return tokens;
}
