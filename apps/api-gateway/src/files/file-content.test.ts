import { isAppError } from '@cap/platform-errors';
import { checkContent, checkFileName, multipartBoundary, parseMultipartFile, sniffKind } from './file-content';

const codeOf = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    if (isAppError(err)) return err.code;
    throw err;
  }
  return 'accepted';
};

const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3]);

describe('upload checks', () => {
  it('when a multipart body holds one file among other fields, then that file is returned byte for byte', () => {
    const content = Buffer.concat([PNG, Buffer.from('\r\n--notTheBoundary\r\n')]);
    const body = Buffer.concat([
      Buffer.from('preamble\r\n--XyZ\r\nContent-Disposition: form-data; name="label"\r\n\r\nhello\r\n'),
      Buffer.from('--XyZ\r\nContent-Disposition: form-data; name="file_noMd5"; filename="logo.png"\r\nContent-Type: image/PNG; x=1\r\n\r\n'),
      content,
      Buffer.from('\r\n--XyZ--\r\n'),
    ]);
    const file = parseMultipartFile(body, multipartBoundary('multipart/form-data; boundary="XyZ"'));
    expect(file).toMatchObject({ field: 'file_noMd5', fileName: 'logo.png', declaredType: 'image/png' });
    expect(file.content.equals(content)).toBe(true);
  });

  it('when a name is given with filename*, then it is decoded; a backslash in a quoted name is kept as a character', () => {
    const body = (disposition: string) => Buffer.from(`--B\r\nContent-Disposition: form-data; name="f"; ${disposition}\r\n\r\nx\r\n--B--`);
    expect(parseMultipartFile(body(`filename*=UTF-8''r%C3%A9sum%C3%A9.csv`), 'B').fileName).toBe('résumé.csv');
    expect(parseMultipartFile(body('filename="..\\\\a.csv"'), 'B').fileName).toBe('..\\\\a.csv');
  });

  it.each([
    ['no boundary', 'multipart/form-data', ''],
    ['not multipart', 'application/json', ''],
  ])('when the Content-Type has %s, then XTK-170402', (_what, type) => {
    expect(codeOf(() => multipartBoundary(type))).toBe('XTK-170402');
  });

  it.each([
    ['no closing boundary', '--B\r\nContent-Disposition: form-data; name="f"; filename="a.csv"\r\n\r\nx'],
    ['no file part', '--B\r\nContent-Disposition: form-data; name="f"\r\n\r\nx\r\n--B--'],
    ['no Content-Disposition', '--B\r\nContent-Type: text/plain\r\n\r\nx\r\n--B--'],
    ['seventeen parts', `${'--B\r\nContent-Disposition: form-data; name="f"\r\n\r\nx\r\n'.repeat(17)}--B--`],
    ['headers over 8 KiB', `--B\r\nContent-Disposition: form-data; name="f"; filename="a.csv"\r\nX: ${'y'.repeat(9000)}\r\n\r\nx\r\n--B--`],
  ])('when the body has %s, then XTK-170402', (_what, body) => {
    expect(codeOf(() => parseMultipartFile(Buffer.from(body), 'B'))).toBe('XTK-170402');
  });

  it.each(['../a.csv', 'a/b.csv', 'a\\b.csv', '..', '.', 'x\u0001.csv', 'a<b>.csv', 'noext', '.htaccess', `${'a'.repeat(252)}.csv`, 'a.ex_e'])(
    'when the name is %j, then XTK-170401',
    (name) => {
      expect(codeOf(() => checkFileName(name))).toBe('XTK-170401');
    },
  );

  it('when the name is ordinary, then its extension is returned in lower case; an executable extension is XTK-170404', () => {
    expect(checkFileName('Report 2026 (final).CSV')).toBe('csv');
    expect(codeOf(() => checkFileName('setup.EXE'))).toBe('XTK-170404');
  });

  it('when contents are sniffed, then known signatures, text and binary are told apart', () => {
    expect(sniffKind(PNG)).toBe('image/png');
    expect(sniffKind(Buffer.from('%PDF-1.4'))).toBe('application/pdf');
    expect(sniffKind(Buffer.from('GIF89a...'))).toBe('image/gif');
    expect(sniffKind(Buffer.from('a,b\nc,d\n'))).toBe('text');
    expect(sniffKind(Buffer.from([0xc3, 0x28, 0x41]))).toBe('binary');
    expect(sniffKind(Buffer.from([0x41, 0, 0x42]))).toBe('binary');
  });

  it.each([
    ['an ELF executable', Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2]), 'dat', '', 'XTK-170404'],
    ['a #! script', Buffer.from('#!/bin/sh\nrm -rf /'), 'txt', 'text/plain', 'XTK-170404'],
    ['HTML with a script', Buffer.from('<p>hi</p><SCRIPT src=x>'), 'html', 'text/html', 'XTK-170404'],
    ['SVG with onload', Buffer.from('<svg onload="x()"/>'), 'svg', 'image/svg+xml', 'XTK-170404'],
    ['markup with an iframe', Buffer.from('  <iframe src="//evil">'), 'txt', 'text/plain', 'XTK-170404'],
    ['a PDF named .png', Buffer.from('%PDF-1.4'), 'png', '', 'XTK-170403'],
    ['a PNG declared image/jpeg', PNG, 'dat', 'image/jpeg', 'XTK-170403'],
    ['text named .pdf', Buffer.from('hello'), 'pdf', '', 'XTK-170403'],
  ])('when the content is %s, then it is refused', (_what, content, ext, type, code) => {
    expect(codeOf(() => checkContent(content, ext, type))).toBe(code);
  });

  it('when the content agrees with its name and type, then it is accepted with the type to serve it with', () => {
    expect(checkContent(PNG, 'png', 'application/octet-stream')).toEqual({ contentType: 'image/png', kind: 'image/png' });
    expect(checkContent(Buffer.from('<p>Hello <b>you</b></p>'), 'html', '')).toEqual({ contentType: 'text/html', kind: 'text' });
    expect(checkContent(Buffer.from('a;b'), 'csv', 'text/csv')).toEqual({ contentType: 'text/csv', kind: 'text' });
    expect(checkContent(Buffer.from([0, 1, 2]), 'dat', '')).toEqual({ contentType: 'application/octet-stream', kind: 'binary' });
  });
});
