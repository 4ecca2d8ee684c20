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

/**
 * What a document may hold. Each limit is checked in the parser's event handlers as the document is read,
 * and the first breach stops the parse: an oversized structure is never built. Refusals name the limit.
 */
export interface XmlLimits {
  /** Deepest element nesting accepted. */
  maxDepth: number;
  /** Most elements in one document. */
  maxElements: number;
  /** Longest input, in characters. */
  maxLength: number;
  /** Most attributes on one element, namespace declarations included. */
  maxAttributesPerElement: number;
  /** Most namespace declarations (`xmlns`, `xmlns:p`) on one element. */
  maxNamespaceDeclarationsPerElement: number;
  /** Most namespace declarations in one document. */
  maxNamespaceDeclarations: number;
  /** Most nodes in one document: elements, attributes (declarations included) and text nodes (text, CDATA). */
  maxNodes: number;
  /** Most characters of text and CDATA in one document, references resolved. */
  maxTextLength: number;
  /** Longest attribute value, in characters, references resolved. */
  maxAttributeValueLength: number;
}

/**
 * Limits that no legitimate Campaign document comes near, and that bound what a hostile one costs:
 * - 1,024 attributes per element: an element is one record, its fields as attributes, and PostgreSQL caps a
 *   table at 1,600 columns: a whole record of a heavily extended schema, read and written back, fits. The
 *   parser's cost per element grows faster than its attribute count (700,000 on one element stalled the
 *   gateway 7 s, then exhausted its heap), so the count is cut long before that.
 * - 32 namespace declarations per element, 256 per document: SOAP clients declare a handful on the envelope
 *   and one on the method element (the SDK: 4 + 1; the soapUI style in
 *   apps/api-gateway/test/soap-fuzz.int.test.ts: 6 + 0); Campaign documents use none inside.
 * - 500,000 nodes: a WriteCollection of 20,000 records of 20 fields is 420,000. The tree costs ~60 bytes
 *   per attribute and ~240 per element, so one document stays under ~70 MB of heap (the gateway's old space
 *   is 192 MB); an 8 MiB body of 140-byte records is ~485,000 nodes.
 * - text: never more than the input (no entity is ever expanded), so 16 Mi characters like maxLength; lower
 *   it to cap text alone.
 * - 1 Mi characters per attribute value: ~4,000 times a Campaign string field (255 by default); a memo sent
 *   as an attribute (the SDK's SimpleJson does that) still fits.
 */
export const DEFAULT_XML_LIMITS: XmlLimits = {
  maxDepth: 64,
  maxElements: 200_000,
  maxLength: 16 * 1024 * 1024,
  maxAttributesPerElement: 1_024,
  maxNamespaceDeclarationsPerElement: 32,
  maxNamespaceDeclarations: 256,
  maxNodes: 500_000,
  maxTextLength: 16 * 1024 * 1024,
  maxAttributeValueLength: 1024 * 1024,
};

/** Characters fed to the parser between two turns of the event loop in `parseXmlAsync` (10 to 30 ms of parsing). */
export const XML_SLICE_LENGTH = 64 * 1024;

/** Malformed or refused XML: the message says why and where; `limit` names the limit a refusal breached. */
export class XmlParseError extends Error {
  constructor(
    message: string,
    readonly line: number,
    readonly column: number,
    readonly source?: string,
    readonly limit?: keyof XmlLimits,
  ) {
    super(`${source ? `${source}:` : ''}${line}:${column}: ${message}`);
    this.name = 'XmlParseError';
  }
}

export interface ParseXmlOptions {
  /** Names the file in error messages. */
  source?: string;
  limits?: Partial<XmlLimits>;
}

export interface ParseXmlAsyncOptions extends ParseXmlOptions {
  /** Characters parsed between two yields (default XML_SLICE_LENGTH). */
  sliceLength?: number;
  /** Gives other work its turn between slices (default: a setImmediate, after pending I/O). */
  yieldControl?: () => Promise<void>;
}

/** Longest excerpt of the input (a name, a parser message) quoted in an error. */
const MAX_QUOTED = 120;
const quote = (text: string) => (text.length > MAX_QUOTED ? `${text.slice(0, MAX_QUOTED)}…` : text);

/**
 * A DOCTYPE can only stand in the prolog, before the root element: refused there at once, before the parser reads
 * it (saxes reports a DOCTYPE only once it has read it whole, which for a large internal subset costs a long parse).
 * Only the XML declaration, processing instructions, comments and blanks are skipped to find it.
 */
function refuseDoctypeInProlog(text: string, source: string | undefined): void {
  let i = 0;
  for (;;) {
    while (i < text.length && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r' || text[i] === '\ufeff')) i++;
    if (text.startsWith('<?', i)) {
      const end = text.indexOf('?>', i + 2);
      if (end < 0) return; // malformed: the parser says so
      i = end + 2;
    } else if (text.startsWith('<!--', i)) {
      const end = text.indexOf('-->', i + 4);
      if (end < 0) return;
      i = end + 3;
    } else {
      if (text.startsWith('<!DOCTYPE', i)) {
        const line = text.slice(0, i).split('\n').length;
        throw new XmlParseError('DOCTYPE declarations are not allowed', line, 1, source);
      }
      return;
    }
  }
}

interface TreeBuilder {
  write(chunk: string): void;
  end(): XmlElement;
}

/** A saxes parser whose handlers build the element tree and enforce the limits. */
function createTreeBuilder(text: string, options: ParseXmlOptions): TreeBuilder {
  const limits: XmlLimits = { ...DEFAULT_XML_LIMITS, ...options.limits };
  const source = options.source;
  if (text.length > limits.maxLength)
    throw new XmlParseError(`document is larger than ${limits.maxLength} characters (limit maxLength)`, 1, 1, source, 'maxLength');
  refuseDoctypeInProlog(text, source);
  const parser = new SaxesParser({ xmlns: true, position: true });
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  let failure: XmlParseError | undefined;
  let elements = 0;
  let nodes = 0;
  let declarations = 0;
  let textLength = 0;
  // The element whose start tag is being read: its name and what it has declared so far.
  let tagName = '';
  let tagAttributes = 0;
  let tagDeclarations = 0;

  const fail = (message: string, limit?: keyof XmlLimits): never => {
    failure ??= new XmlParseError(message, parser.line, parser.column, source, limit);
    throw failure;
  };
  const refuse = (limit: keyof XmlLimits, what: string): never => fail(`${what} (limit ${limit})`, limit);
  const countNode = () => {
    if (++nodes > limits.maxNodes) refuse('maxNodes', `more than ${limits.maxNodes} nodes`);
  };

  parser.on('doctype', () => fail('DOCTYPE declarations are not allowed'));
  // Fires once the name is read, before any attribute: a flood of elements stops here.
  parser.on('opentagstart', (tag) => {
    if (++elements > limits.maxElements) refuse('maxElements', `more than ${limits.maxElements} elements`);
    if (stack.length >= limits.maxDepth) refuse('maxDepth', `elements nested deeper than ${limits.maxDepth}`);
    countNode();
    tagName = tag.name;
    tagAttributes = 0;
    tagDeclarations = 0;
  });
  // Fires for each attribute as it is read, before the element's attributes are gathered (opentag).
  parser.on('attribute', (attr) => {
    if (attr.prefix === 'xmlns' || attr.name === 'xmlns') {
      if (++tagDeclarations > limits.maxNamespaceDeclarationsPerElement) {
        refuse(
          'maxNamespaceDeclarationsPerElement',
          `more than ${limits.maxNamespaceDeclarationsPerElement} namespace declarations on element <${quote(tagName)}>`,
        );
      }
      if (++declarations > limits.maxNamespaceDeclarations)
        refuse('maxNamespaceDeclarations', `more than ${limits.maxNamespaceDeclarations} namespace declarations`);
    }
    if (++tagAttributes > limits.maxAttributesPerElement)
      refuse('maxAttributesPerElement', `more than ${limits.maxAttributesPerElement} attributes on element <${quote(tagName)}>`);
    if (attr.value.length > limits.maxAttributeValueLength) {
      refuse('maxAttributeValueLength', `attribute ${quote(attr.name)} is longer than ${limits.maxAttributeValueLength} characters`);
    }
    countNode();
  });
  parser.on('opentag', (tag) => {
    const t = tag as SaxesTagNS;
    const attrs: Record<string, string> = {};
    for (const qname in t.attributes) attrs[qname] = t.attributes[qname]!.value;
    const el: XmlElement = {
      name: t.name,
      local: t.local,
      prefix: t.prefix,
      ns: t.uri,
      attrs,
      children: [],
      text: '',
      line: parser.line,
      column: parser.column,
    };
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
    if (!current) return;
    countNode();
    textLength += value.length;
    if (textLength > limits.maxTextLength) refuse('maxTextLength', `more than ${limits.maxTextLength} characters of text`);
    current.text += value;
  };
  parser.on('text', onText);
  parser.on('cdata', onText);
  parser.on('error', (err) => fail(quote(err.message.replace(/^[^:]*:\d+:\d+: /, ''))));

  const guard = (step: () => void) => {
    try {
      step();
    } catch (err) {
      if (failure) throw failure;
      throw new XmlParseError(err instanceof Error ? quote(err.message) : String(err), parser.line, parser.column, source);
    }
  };
  return {
    write(chunk) {
      guard(() => parser.write(chunk));
    },
    end() {
      guard(() => parser.close());
      if (!root) throw new XmlParseError('no root element', parser.line, parser.column, source);
      return root;
    },
  };
}

/**
 * Parses XML into a small element tree with strict rules: well-formed only, no DOCTYPE at all (so no
 * entities to expand, no external resources: XXE and "billion laughs" cannot happen), and every XmlLimits
 * bound enforced while parsing. In one go: for large input from callers that must not hold the event loop
 * (a server), use `parseXmlAsync`.
 */
export function parseXml(text: string, options: ParseXmlOptions = {}): XmlElement {
  const tree = createTreeBuilder(text, options);
  tree.write(text);
  return tree.end();
}

const setImmediateTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * `parseXml` that gives the event loop a turn before each `sliceLength` characters, so a large document
 * (legitimate or hostile) never holds it for more than one slice's parsing (~10 to 30 ms). Same tree, same
 * errors. A document of one slice or less is parsed at once, without yielding; a larger one yields before
 * its first slice too, apart from whatever work produced it (a server decoding the request body).
 */
export async function parseXmlAsync(text: string, options: ParseXmlAsyncOptions = {}): Promise<XmlElement> {
  const tree = createTreeBuilder(text, options);
  const sliceLength = Math.max(1, options.sliceLength ?? XML_SLICE_LENGTH);
  const yieldControl = options.yieldControl ?? setImmediateTurn;
  if (text.length <= sliceLength) {
    tree.write(text);
    return tree.end();
  }
  for (let at = 0; at < text.length; at += sliceLength) {
    await yieldControl();
    tree.write(text.slice(at, at + sliceLength));
  }
  return tree.end();
}
