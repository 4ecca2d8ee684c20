import { SaxesParser, type SaxesTagNS } from 'saxes';

/** An element of a parsed XML document. Names keep their prefix as written; `local`/`ns` are resolved. */
export interface XmlElement {
  /** Qualified name as written (`m:Logon`, `recipient`). */
  name: string;
  local: string;
  prefix: string;
  /** Namespace URI ('' when none). */
  ns: string;
  /** Attributes by qualified name as written (`xsi:type`, `email`). Namespace declarations are kept too. */
  attrs: Record<string, string>;
  children: XmlElement[];
  /** Direct text content (text and CDATA), concatenated. */
  text: string;
  line: number;
  column: number;
}

export interface XmlLimits {
  /** Deepest element nesting accepted. */
  maxDepth: number;
  /** Most elements in one document. */
  maxElements: number;
  /** Longest input, in characters. */
  maxLength: number;
}

export const DEFAULT_XML_LIMITS: XmlLimits = { maxDepth: 64, maxElements: 200_000, maxLength: 16 * 1024 * 1024 };

/** Malformed or refused XML: the message says why and where. */
export class XmlParseError extends Error {
  constructor(
    message: string,
    readonly line: number,
    readonly column: number,
    readonly source?: string,
  ) {
    super(`${source ? `${source}:` : ''}${line}:${column}: ${message}`);
    this.name = 'XmlParseError';
  }
}

/**
 * Parses XML into a small element tree with strict rules: well-formed only, no DOCTYPE at all (so no
 * entities to expand, no external resources: XXE and "billion laughs" cannot happen), and bounded depth,
 * element count and length. `source` names the file in error messages.
 */
export function parseXml(text: string, options: { source?: string; limits?: Partial<XmlLimits> } = {}): XmlElement {
  const limits = { ...DEFAULT_XML_LIMITS, ...options.limits };
  const source = options.source;
  if (text.length > limits.maxLength) throw new XmlParseError(`document is larger than ${limits.maxLength} characters`, 1, 1, source);
  const parser = new SaxesParser({ xmlns: true, position: true });
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  let count = 0;
  let failure: XmlParseError | undefined;

  const fail = (message: string) => {
    failure ??= new XmlParseError(message, parser.line, parser.column, source);
    throw failure;
  };

  parser.on('doctype', () => fail('DOCTYPE declarations are not allowed'));
  parser.on('opentag', (tag) => {
    const t = tag as SaxesTagNS;
    if (++count > limits.maxElements) fail(`more than ${limits.maxElements} elements`);
    if (stack.length >= limits.maxDepth) fail(`elements nested deeper than ${limits.maxDepth}`);
    const attrs: Record<string, string> = {};
    for (const [qname, attr] of Object.entries(t.attributes)) attrs[qname] = attr.value;
    const el: XmlElement = { name: t.name, local: t.local, prefix: t.prefix, ns: t.uri, attrs, children: [], text: '', line: parser.line, column: parser.column };
    const parent = stack[stack.length - 1];
    if (parent) parent.children.push(el);
    else if (root) fail('more than one root element');
    else root = el;
    stack.push(el);
  });
  parser.on('closetag', () => {
    stack.pop();
  });
  const onText = (value: string) => {
    const current = stack[stack.length - 1];
    if (current) current.text += value;
  };
  parser.on('text', onText);
  parser.on('cdata', onText);
  parser.on('error', (err) => fail(err.message.replace(/^[^:]*:\d+:\d+: /, '')));

  try {
    parser.write(text).close();
  } catch (err) {
    if (failure) throw failure;
    throw new XmlParseError(err instanceof Error ? err.message : String(err), parser.line, parser.column, source);
  }
  if (!root) throw new XmlParseError('no root element', parser.line, parser.column, source);
  return root;
}
