import type { XmlElement } from './xml.parser';

const TEXT_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;' };
const ATTR_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&apos;',
  '\n': '&#10;',
  '\r': '&#13;',
  '\t': '&#9;',
};

// Characters XML 1.0 cannot carry at all (control characters other than tab, LF, CR; lone surrogates).
// eslint-disable-next-line no-control-regex
const INVALID_XML_CHARS = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

export function escapeText(value: string): string {
  return value.replace(INVALID_XML_CHARS, '\uFFFD').replace(/[&<>]/g, (c) => TEXT_ESCAPES[c]!);
}

export function escapeAttr(value: string): string {
  return value.replace(INVALID_XML_CHARS, '\uFFFD').replace(/[&<>"'\n\r\t]/g, (c) => ATTR_ESCAPES[c]!);
}

/**
 * Serialises an element tree compactly (no added whitespace: scalar values must never be padded).
 * `plain` writes local names only and drops namespace declarations and prefixed attributes (xsi:type…):
 * for data documents cut out of a SOAP envelope, which must stand alone.
 */
export function serializeXml(el: XmlElement, options: { plain?: boolean } = {}): string {
  const parts: string[] = [];
  write(el, parts, options.plain ?? false);
  return parts.join('');
}

function write(el: XmlElement, out: string[], plain: boolean): void {
  const name = plain ? el.local : el.name;
  out.push('<', name);
  for (const [attr, value] of Object.entries(el.attrs)) {
    if (plain && (attr.includes(':') || attr === 'xmlns')) continue;
    out.push(' ', attr, '="', escapeAttr(value), '"');
  }
  if (el.children.length === 0 && el.text === '') {
    out.push('/>');
    return;
  }
  out.push('>');
  if (el.text !== '') out.push(escapeText(el.text));
  for (const child of el.children) write(child, out, plain);
  out.push('</', name, '>');
}
