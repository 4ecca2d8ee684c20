import { appError, ErrorCatalogue, type AppError } from '@cap/platform-errors';

/**
 * What an upload may be (docs/files-and-reports.md): pure checks on a buffered multipart body, the file name and
 * the content's first bytes. Every refusal is an AppError of the XTK-1704xx block; nothing here does I/O.
 */

/** Longest header block of one multipart part. */
const MAX_PART_HEADER_BYTES = 8 * 1024;
/** Most parts one upload form may hold. */
const MAX_PARTS = 16;

export interface UploadedFile {
  /** The form field name (the SDK sends `file_noMd5`). */
  field: string;
  fileName: string;
  /** The part's Content-Type, lower case, without parameters ('' when absent). */
  declaredType: string;
  content: Buffer;
}

const malformed = (why: string): AppError => appError(ErrorCatalogue.FILE_UPLOAD_MALFORMED, { why });

/** The boundary of a `multipart/form-data` Content-Type, or a malformed-upload error. */
export function multipartBoundary(contentType: string | undefined): string {
  const type = (contentType ?? '').trim();
  if (!/^multipart\/form-data\s*(;|$)/i.test(type)) throw malformed('the body must be multipart/form-data');
  const match = /;\s*boundary=(?:"([^"]{1,70})"|([^\s;"]{1,70}))/i.exec(type);
  const boundary = match?.[1] ?? match?.[2];
  if (!boundary) throw malformed('the Content-Type has no boundary');
  return boundary;
}

/** One `name="value"` parameter of a Content-Disposition header (quoted or not; `filename*=UTF-8''…` too). */
function dispositionParam(header: string, name: string): string | undefined {
  const extended = new RegExp(`;\\s*${name}\\*=(?:UTF-8|utf-8)''([^;]*)`).exec(header);
  if (extended?.[1] !== undefined) {
    try {
      return decodeURIComponent(extended[1].trim());
    } catch {
      throw malformed(`the ${name}* parameter is not valid percent-encoded UTF-8`);
    }
  }
  // Browsers percent-encode a quote in the name and escape nothing else (RFC 7578): a backslash is a character.
  const match = new RegExp(`;\\s*${name}=(?:"([^"]*)"|([^;\\s]*))`, 'i').exec(header);
  if (!match) return undefined;
  return match[1] ?? match[2];
}

/**
 * The one file part of a buffered multipart/form-data body (other fields are ignored). Refused: no opening or
 * closing boundary, a part without headers or Content-Disposition, headers over 8 KiB, more than 16 parts, no file
 * part, or more than one.
 */
export function parseMultipartFile(body: Buffer, boundary: string): UploadedFile {
  const delimiter = Buffer.from(`--${boundary}`);
  const crlfDelimiter = Buffer.from(`\r\n--${boundary}`);
  let start: number;
  if (body.subarray(0, delimiter.length).equals(delimiter)) start = delimiter.length;
  else {
    const first = body.indexOf(crlfDelimiter);
    if (first < 0) throw malformed('the body does not hold the boundary the Content-Type gives');
    start = first + crlfDelimiter.length;
  }
  const files: UploadedFile[] = [];
  let parts = 0;
  for (;;) {
    // After a delimiter: `--` ends the body, CRLF starts a part.
    if (body[start] === 0x2d && body[start + 1] === 0x2d) break;
    if (body[start] !== 0x0d || body[start + 1] !== 0x0a) throw malformed('a boundary is not followed by a line break');
    const headerStart = start + 2;
    const headerEnd = body.indexOf('\r\n\r\n', headerStart);
    if (headerEnd < 0 || headerEnd - headerStart > MAX_PART_HEADER_BYTES) throw malformed('a part has no header block, or one over 8 KiB');
    const next = body.indexOf(crlfDelimiter, headerEnd + 4);
    if (next < 0) throw malformed('the body ends before its closing boundary');
    if (++parts > MAX_PARTS) throw malformed(`more than ${MAX_PARTS} parts`);
    const headers = body.subarray(headerStart, headerEnd).toString('utf8').split('\r\n');
    const disposition = headers.find((h) => /^content-disposition\s*:/i.test(h));
    if (!disposition || !/:\s*form-data\s*(;|$)/i.test(disposition)) throw malformed('a part has no Content-Disposition: form-data');
    const fileName = dispositionParam(disposition, 'filename');
    if (fileName !== undefined) {
      const typeHeader = headers.find((h) => /^content-type\s*:/i.test(h));
      const declaredType = (typeHeader?.slice(typeHeader.indexOf(':') + 1) ?? '').split(';')[0]!.trim().toLowerCase();
      files.push({ field: dispositionParam(disposition, 'name') ?? '', fileName, declaredType, content: body.subarray(headerEnd + 4, next) });
    }
    start = next + crlfDelimiter.length;
  }
  if (files.length === 0) throw malformed('the form holds no file part');
  if (files.length > 1) throw malformed('the form holds more than one file part');
  return files[0]!;
}

/** Extensions of programs and scripts a browser or a desktop would run: refused whatever the content. */
const EXECUTABLE_EXTENSIONS = new Set([
  'exe', 'dll', 'com', 'bat', 'cmd', 'msi', 'scr', 'pif', 'cpl', 'ps1', 'vbs', 'vbe', 'js', 'mjs', 'jse', 'wsf', 'hta',
  'jar', 'sh', 'app', 'apk', 'reg', 'class', 'elf', 'bin', 'so', 'dylib',
]); // prettier-ignore

/**
 * The file name as given, checked: 1 to 255 characters, no path (`/`, `\`), no control or reserved character
 * (`< > : " | ? *`), not `.`/`..`, an extension of 1 to 16 letters or digits that is not an executable's.
 * Returns the extension, lower case.
 */
export function checkFileName(name: string): string {
  // eslint-disable-next-line no-control-regex
  const refuse = (why: string) => appError(ErrorCatalogue.FILE_NAME_REFUSED, { name: name.slice(0, 80).replace(/[\u0000-\u001f\u007f]/g, '?'), why });
  if (name.length === 0 || name.length > 255) throw refuse('a name has 1 to 255 characters');
  if (/[/\\]/.test(name) || name === '.' || name === '..') throw refuse('a name may not hold a path');
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f<>:"|?*]/.test(name)) throw refuse('control characters and < > : " | ? * are not allowed');
  const dot = name.lastIndexOf('.');
  const ext = dot > 0 ? name.slice(dot + 1).toLowerCase() : '';
  if (!/^[a-z0-9]{1,16}$/.test(ext)) throw refuse('a name needs an extension of 1 to 16 letters or digits');
  if (EXECUTABLE_EXTENSIONS.has(ext)) throw appError(ErrorCatalogue.FILE_CONTENT_REFUSED, { why: `executable files (.${ext}) are not accepted` });
  return ext;
}

/** A content kind: a MIME type for known binary formats, `text` for text, `binary` for anything else. */
export type ContentKind =
  'image/png' | 'image/jpeg' | 'image/gif' | 'image/webp' | 'application/pdf' | 'application/zip' | 'application/gzip' | 'text' | 'binary';

const EXTENSION_KINDS: Readonly<Record<string, ContentKind>> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  pdf: 'application/pdf',
  zip: 'application/zip',
  docx: 'application/zip',
  xlsx: 'application/zip',
  pptx: 'application/zip',
  odt: 'application/zip',
  ods: 'application/zip',
  gz: 'application/gzip',
  tgz: 'application/gzip',
  txt: 'text',
  csv: 'text',
  tsv: 'text',
  json: 'text',
  xml: 'text',
  html: 'text',
  htm: 'text',
  svg: 'text',
  css: 'text',
  md: 'text',
};

/** Declared MIME types that name a kind; any other declared type (application/octet-stream…) says nothing. */
function declaredKind(type: string): ContentKind | undefined {
  if (type === 'image/jpg' || type === 'image/pjpeg') return 'image/jpeg';
  if (['image/png', 'image/jpeg', 'image/gif', 'image/webp', 'application/pdf', 'application/zip', 'application/gzip'].includes(type))
    return type as ContentKind;
  if (type === 'application/x-gzip') return 'application/gzip';
  if (
    type === 'application/x-zip-compressed' ||
    type.startsWith('application/vnd.openxmlformats-officedocument.') ||
    type.startsWith('application/vnd.oasis.opendocument.')
  )
    return 'application/zip';
  if (type.startsWith('text/') || type === 'application/json' || type === 'application/xml' || type === 'image/svg+xml') return 'text';
  return undefined;
}

const startsWith = (content: Buffer, bytes: number[], at = 0) => bytes.every((b, i) => content[at + i] === b);

/** What an executable's first bytes say it is, or undefined. */
function executableKind(content: Buffer): string | undefined {
  if (startsWith(content, [0x4d, 0x5a])) return 'a Windows executable (MZ)';
  if (startsWith(content, [0x7f, 0x45, 0x4c, 0x46])) return 'an ELF executable';
  for (const magic of [
    [0xfe, 0xed, 0xfa, 0xce],
    [0xfe, 0xed, 0xfa, 0xcf],
    [0xce, 0xfa, 0xed, 0xfe],
    [0xcf, 0xfa, 0xed, 0xfe],
    [0xca, 0xfe, 0xba, 0xbe],
  ])
    if (startsWith(content, magic)) return 'a Mach-O executable or a Java class';
  if (startsWith(content, [0x23, 0x21])) return 'a script (#!)';
  return undefined;
}

/** The kind the content's first bytes show. */
export function sniffKind(content: Buffer): ContentKind {
  if (startsWith(content, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'image/png';
  if (startsWith(content, [0xff, 0xd8, 0xff])) return 'image/jpeg';
  if (content.subarray(0, 6).toString('latin1') === 'GIF87a' || content.subarray(0, 6).toString('latin1') === 'GIF89a') return 'image/gif';
  if (content.subarray(0, 4).toString('latin1') === 'RIFF' && content.subarray(8, 12).toString('latin1') === 'WEBP') return 'image/webp';
  if (content.subarray(0, 5).toString('latin1') === '%PDF-') return 'application/pdf';
  if (startsWith(content, [0x50, 0x4b, 0x03, 0x04]) || startsWith(content, [0x50, 0x4b, 0x05, 0x06])) return 'application/zip';
  if (startsWith(content, [0x1f, 0x8b])) return 'application/gzip';
  // Text: no NUL byte and valid UTF-8 in the first 8 KiB (a multi-byte character cut at the end is allowed).
  const head = content.subarray(0, 8192);
  if (head.includes(0)) return 'binary';
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(head.length === content.length ? head : head.subarray(0, Math.max(0, head.length - 3)));
    return 'text';
  } catch {
    return 'binary';
  }
}

/** Active content in markup: script elements, event-handler attributes, javascript: URLs (linear-time patterns). */
const ACTIVE_CONTENT: readonly [RegExp, string][] = [
  [/<\s*script\b/i, 'a <script> element'],
  [/\son[a-z]+\s*=/i, 'an event-handler attribute (on…=)'],
  [/javascript\s*:/i, 'a javascript: URL'],
  [/<\s*(iframe|object|embed)\b/i, 'an embedded frame or object'],
];

export interface CheckedContent {
  /** The type the file is stored and served with. */
  contentType: string;
  kind: ContentKind;
}

const TEXT_TYPES: Readonly<Record<string, string>> = {
  csv: 'text/csv',
  tsv: 'text/tab-separated-values',
  json: 'application/json',
  xml: 'application/xml',
  html: 'text/html',
  htm: 'text/html',
  svg: 'image/svg+xml',
  css: 'text/css',
  md: 'text/markdown',
};

/**
 * The content policy: executables are refused (by their first bytes); a known kind must agree with the declared
 * type and with the name's extension; text that is or is named as markup (HTML, SVG, XML) must hold no active
 * content. Returns the type to serve it with: the declared one when it names a kind, else the extension's.
 */
export function checkContent(content: Buffer, ext: string, declaredType: string): CheckedContent {
  const executable = executableKind(content);
  if (executable) throw appError(ErrorCatalogue.FILE_CONTENT_REFUSED, { why: `it is ${executable}` });
  const kind = sniffKind(content);
  const declared = declaredKind(declaredType);
  const expected = EXTENSION_KINDS[ext];
  const describe = (k: ContentKind) => (k === 'text' ? 'text' : k === 'binary' ? 'binary data of no known type' : k);
  if (declared !== undefined && declared !== kind) throw appError(ErrorCatalogue.FILE_TYPE_MISMATCH, { sniffed: describe(kind), declared: declaredType });
  if (expected !== undefined && expected !== kind) throw appError(ErrorCatalogue.FILE_TYPE_MISMATCH, { sniffed: describe(kind), declared: `.${ext}` });
  if (kind === 'text') {
    const markup =
      ['html', 'htm', 'svg', 'xml', 'xhtml'].includes(ext) ||
      /(html|svg|xml)/.test(declaredType) ||
      /^\uFEFF?\s*</.test(content.subarray(0, 1024).toString('utf8'));
    if (markup) {
      const text = content.toString('utf8');
      for (const [pattern, what] of ACTIVE_CONTENT) if (pattern.test(text)) throw appError(ErrorCatalogue.FILE_CONTENT_REFUSED, { why: `markup with ${what}` });
    }
  }
  const contentType =
    declared !== undefined ? declaredType : kind === 'text' ? (TEXT_TYPES[ext] ?? 'text/plain') : kind === 'binary' ? 'application/octet-stream' : kind;
  return { contentType, kind };
}
