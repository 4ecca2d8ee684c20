import { randomBytes } from 'node:crypto';
import { createSecretCipher, inspectSecretToken, ringOf, verifyPassword, type SecretKey } from '@cap/platform-secrets';
import { failure, sdkLogon, startTestPlatform, type SdkClient, type ServiceProcess, type TestPlatform } from '@cap/platform-testing';
import { SECRET_LIMITS } from '../src/soap-methods/secret.soap-methods';

// Adobe's own client, unmodified: the compatibility bar (docs/campaign-api.md).
const sdk = require('@adobe/acc-js-sdk');

const OLD: SecretKey = { id: 'k2025', key: randomBytes(32) };
const NEW: SecretKey = { id: 'k2026', key: randomBytes(32) };
const setting = (...keys: SecretKey[]) => keys.map((k) => `${k.id}:${k.key.toString('base64')}`).join(',');
/** What the test itself decrypts with: the same keys, read with the documented token format (docs/secrets.md). */
const decrypt = (token: string, ...keys: SecretKey[]) => createSecretCipher(ringOf(keys)).decrypt(token);

describe('xtk:session secrets (Encrypt, EncryptPassword, EncryptServerPassword, ReEncryptPassword, HashPassword) through the unmodified SDK', () => {
  let platform: TestPlatform;
  let url: string;
  let admin: SdkClient;

  /** A raw SOAP call of an xtk:session method, with the admin session unless `anonymous`. */
  const rawCall = async (method: string, params: string, anonymous = false) => {
    const token = anonymous ? '' : (admin._sessionToken as string);
    const res = await fetch(`${url}/nl/jsp/soaprouter.jsp`, {
      method: 'POST',
      headers: {
        'content-type': 'text/xml',
        SOAPAction: `xtk:session#${method}`,
        ...(anonymous ? {} : { 'X-Security-Token': admin._securityToken as string }),
      },
      body: `<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/"><SOAP-ENV:Body><m:${method} xmlns:m="urn:xtk:session"><sessiontoken>${token}</sessiontoken>${params}</m:${method}></SOAP-ENV:Body></SOAP-ENV:Envelope>`,
    });
    return { status: res.status, text: await res.text() };
  };

  beforeAll(async () => {
    platform = await startTestPlatform({ envFor: { 'api-gateway': { SECRETS_KEYS: setting(OLD) } } });
    url = platform.gatewayUrl;
    admin = await sdkLogon(url, 'admin', 'admin');
  });

  afterAll(async () => {
    await platform?.stop();
  });

  it('when a text is encrypted, then an "@"-prefixed base64 token comes back that decrypts to the text with the instance key', async () => {
    for (const text of ['Hello, World', '', 'é€😀 <xml/> & "quotes"']) {
      const token: string = await admin.NLWS.xtkSession.encrypt(text);
      expect(token).toMatch(/^@[A-Za-z0-9+/]+={0,2}$/);
      if (text) expect(token).not.toContain(Buffer.from(text).toString('base64'));
      expect(decrypt(token, OLD)).toEqual({ text, keyId: 'k2025' });
    }
    const password: string = await admin.NLWS.xtkSession.encryptPassword('ext-account-pw');
    expect(decrypt(password, OLD).text).toBe('ext-account-pw');
    expect(decrypt(await admin.NLWS.xtkSession.encryptString('gcm'), OLD).text).toBe('gcm');
    // The server decrypts its own tokens too: ReEncryptPassword gives a new token of the same text.
    const again: string = await admin.NLWS.xtkSession.reEncryptPassword(password);
    expect(again).not.toBe(password);
    expect(decrypt(again, OLD).text).toBe('ext-account-pw');
  });

  it('when sample 020 runs its five calls, EncryptServerPassword included, then each answers and the server-password tokens are of the instance key', async () => {
    const password = 'Hello, World';
    // The sample's calls, in its order.
    expect(decrypt(await admin.NLWS.xtkSession.encrypt(password), OLD).text).toBe(password);
    expect(decrypt(await admin.NLWS.xtkSession.encryptPassword(password), OLD).text).toBe(password);
    const server: string = await admin.NLWS.xtkSession.encryptServerPassword(password);
    expect(server).toMatch(/^@[A-Za-z0-9+/]+={0,2}$/);
    expect(server).not.toContain(Buffer.from(password).toString('base64'));
    expect(decrypt(server, OLD)).toEqual({ text: password, keyId: 'k2025' });
    expect(await verifyPassword(password, await admin.NLWS.xtkSession.hashPassword(password))).toBe(true);
    expect(decrypt(await admin.NLWS.xtkSession.reEncryptPassword(await admin.NLWS.xtkSession.encryptPassword(password)), OLD).text).toBe(password);
    // Its AES-GCM successor in Campaign's technote, and ReEncryptPassword reads both: tokens like any other.
    const gcm: string = await admin.NLWS.xtkSession.encryptStringWithServerPassword(password);
    expect(decrypt(gcm, OLD).text).toBe(password);
    expect(decrypt(await admin.NLWS.xtkSession.reEncryptPassword(server), OLD).text).toBe(password);
    // Two tokens of one password differ (random IV); an empty password is a text like any other.
    expect(await admin.NLWS.xtkSession.encryptServerPassword(password)).not.toBe(server);
    expect(decrypt(await admin.NLWS.xtkSession.encryptServerPassword(''), OLD).text).toBe('');
  });

  it('when EncryptServerPassword gets no password, an element, or one over the limit, then SOP-330008 names the parameter; anonymous callers get XSV-350008', async () => {
    for (const method of ['EncryptServerPassword', 'EncryptStringWithServerPassword']) {
      const missing = await rawCall(method, '');
      expect(missing.status).toBe(200);
      expect(missing.text).toMatch(new RegExp(`<faultstring[^>]*>SOP-330008 Invalid parameter 'decrypted' of method '${method}': the parameter is missing`));
      const element = await rawCall(
        method,
        '<decrypted xsi:type="ns:Element" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:ns="http://xml.apache.org/xml-soap"><pw>x</pw></decrypted>',
      );
      expect(element.text).toMatch(new RegExp(`SOP-330008 Invalid parameter 'decrypted' of method '${method}': expected a string, not XML elements`));
      const anonymous = await rawCall(method, '<decrypted>text</decrypted>', true);
      expect(anonymous.text).toContain('XSV-350008');
    }
    const huge = await failure(admin.NLWS.xtkSession.encryptServerPassword('x'.repeat(SECRET_LIMITS.textChars + 1)));
    expect(huge).toMatchObject({
      statusCode: 500,
      errorCode: 'SOP-330008',
      faultString: expect.stringContaining(`longer than ${SECRET_LIMITS.textChars} characters`),
    });
    // What the SDK sends for a number or an object is text: encrypted as such, never an error of the server.
    expect(decrypt(await admin.NLWS.xtkSession.encryptServerPassword(12345), OLD).text).toBe('12345');
    expect(decrypt(await admin.NLWS.xtkSession.encryptServerPassword('p'), OLD).text).toBe('p');
    expect((await platform.procs.get('api-gateway')!.readyz()).status).toBe(200);
  });

  it('when the same text is encrypted twice, then the two tokens differ', async () => {
    const [a, b] = await Promise.all([admin.NLWS.xtkSession.encrypt('same text'), admin.NLWS.xtkSession.encrypt('same text')]);
    expect(a).not.toBe(b);
    expect(decrypt(a, OLD).text).toBe(decrypt(b, OLD).text);
  });

  it('when a token is tampered with, made with another key, or not a token, then ReEncryptPassword refuses it with XSV-350030', async () => {
    const token: string = await admin.NLWS.xtkSession.encryptPassword('do not touch');
    const bytes = Buffer.from(token.slice(1), 'base64');
    bytes[bytes.length - 3] = bytes[bytes.length - 3]! ^ 0x40;
    const tampered = `@${bytes.toString('base64')}`;
    expect(await failure(admin.NLWS.xtkSession.reEncryptPassword(tampered))).toMatchObject({
      statusCode: 500,
      errorCode: 'XSV-350030',
      faultString: expect.stringContaining('altered'),
    });
    const foreign = createSecretCipher(ringOf([{ id: 'k2025', key: randomBytes(32) }])).encrypt('x');
    expect((await failure(admin.NLWS.xtkSession.reEncryptPassword(foreign))).errorCode).toBe('XSV-350030');
    expect((await failure(admin.NLWS.xtkSession.reEncryptPassword('plain text'))).errorCode).toBe('XSV-350030');
  });

  it('when a password is hashed, then the hash verifies that password only, never shows it, and differs per call', async () => {
    const a: string = await admin.NLWS.xtkSession.hashPassword('S3cret!');
    const b: string = await admin.NLWS.xtkSession.hashPassword('S3cret!');
    expect(a).toMatch(/^scrypt\$/);
    expect(a).not.toContain('S3cret');
    expect(a).not.toBe(b);
    await expect(verifyPassword('S3cret!', a)).resolves.toBe(true);
    await expect(verifyPassword('S3cret!', b)).resolves.toBe(true);
    await expect(verifyPassword('S3cret?', a)).resolves.toBe(false);
  });

  it('when a parameter is over its limit or missing, then a SOP-330008 fault names it, and the gateway keeps answering', async () => {
    const huge = await failure(admin.NLWS.xtkSession.encrypt('x'.repeat(SECRET_LIMITS.textChars + 1)));
    expect(huge).toMatchObject({ errorCode: 'SOP-330008', faultString: expect.stringContaining(`'decrypted'`) });
    expect(huge.faultString).toContain(`longer than ${SECRET_LIMITS.textChars} characters`);
    const long = await failure(admin.NLWS.xtkSession.hashPassword('p'.repeat(SECRET_LIMITS.passwordChars + 1)));
    expect(long).toMatchObject({ errorCode: 'SOP-330008', faultString: expect.stringContaining(`longer than ${SECRET_LIMITS.passwordChars} characters`) });
    expect((await failure(admin.NLWS.xtkSession.reEncryptPassword(`@${'A'.repeat(SECRET_LIMITS.tokenChars)}`))).errorCode).toBe('SOP-330008');
    for (const method of ['Encrypt', 'EncryptPassword', 'HashPassword', 'ReEncryptPassword']) {
      const missing = await rawCall(method, '');
      expect(missing.status).toBe(200);
      expect(missing.text).toMatch(/<faultstring[^>]*>SOP-330008 Invalid parameter '(decrypted|encrypted)' of method '\w+': the parameter is missing/);
    }
    expect(decrypt(await admin.NLWS.xtkSession.encrypt('still answering'), OLD).text).toBe('still answering');
    expect((await platform.procs.get('api-gateway')!.readyz()).status).toBe(200);
  });

  it('when nobody is logged on, then every secrets method answers the XSV-350008 fault (the SDK: 401)', async () => {
    for (const method of ['Encrypt', 'EncryptString', 'EncryptPassword', 'EncryptServerPassword', 'HashPassword', 'ReEncryptPassword']) {
      const name = method === 'ReEncryptPassword' ? 'encrypted' : 'decrypted';
      const anonymous = await rawCall(method, `<${name}>text</${name}>`, true);
      expect(anonymous.status).toBe(200);
      expect(anonymous.text).toContain('<SOAP-ENV:Fault>');
      expect(anonymous.text).toContain('XSV-350008');
    }
    const client = await sdk.init(sdk.ConnectionParameters.ofAnonymousUser(url));
    await client.logon();
    expect(await failure(client.NLWS.xtkSession.encrypt('x'))).toMatchObject({ statusCode: 401 });
  });

  describe('key rotation', () => {
    const gateways: ServiceProcess[] = [];
    const gatewayWith = async (keys: string): Promise<SdkClient> => {
      const gateway = await platform.startReplica('api-gateway', { SECRETS_KEYS: keys });
      gateways.push(gateway);
      await gateway.waitUntilReady();
      return sdkLogon(gateway.url, 'admin', 'admin');
    };

    afterAll(async () => {
      await Promise.all(gateways.map((g) => g.stop()));
    });

    it('when the gateway gets a new key before the old one, then new tokens use the new key and tokens of both keys decrypt', async () => {
      const oldToken: string = await admin.NLWS.xtkSession.encryptPassword('rotate me');
      expect(inspectSecretToken(oldToken)?.keyId).toBe('k2025');
      const rotated = await gatewayWith(setting(NEW, OLD));
      const newToken: string = await rotated.NLWS.xtkSession.encryptPassword('rotate me');
      expect(inspectSecretToken(newToken)?.keyId).toBe('k2026');
      expect(decrypt(newToken, NEW).text).toBe('rotate me');
      // ReEncryptPassword decrypts with whichever key made the token and encrypts with the newest.
      const moved: string = await rotated.NLWS.xtkSession.reEncryptPassword(oldToken);
      expect(inspectSecretToken(moved)?.keyId).toBe('k2026');
      expect(decrypt(moved, NEW).text).toBe('rotate me');
      expect(decrypt(await rotated.NLWS.xtkSession.reEncryptPassword(newToken), NEW).text).toBe('rotate me');
      // Once the old key is retired, its tokens are refused; the re-encrypted ones still work.
      const retired = await gatewayWith(setting(NEW));
      expect(await failure(retired.NLWS.xtkSession.reEncryptPassword(oldToken))).toMatchObject({
        errorCode: 'XSV-350030',
        faultString: expect.stringContaining('does not have'),
      });
      expect(decrypt(await retired.NLWS.xtkSession.reEncryptPassword(moved), NEW).text).toBe('rotate me');
    });

    it('when NODE_ENV=production and no key is set, or a key is malformed, then the gateway refuses to start and names the setting', async () => {
      const noKey = await platform.startReplica('api-gateway', { NODE_ENV: 'production', SECRETS_KEYS: '' });
      gateways.push(noKey);
      expect((await noKey.exited).code).not.toBe(0);
      const bad = await platform.startReplica('api-gateway', { SECRETS_KEYS: `k1:${randomBytes(16).toString('base64')}` });
      gateways.push(bad);
      expect((await bad.exited).code).not.toBe(0);
      const said = (p: ServiceProcess) => JSON.stringify(p.logs);
      expect(said(noKey)).toContain('SECRETS_KEYS: required when NODE_ENV=production');
      expect(said(bad)).toContain('the key is 16 bytes');
    });
  });
});
