import { compileSchemas } from '@cap/campaign-schema';
import { SoapFault } from '@cap/campaign-soap';
import { parseXml, type XmlElement } from '@cap/campaign-xml';
import { createSecretCipher, ringOf } from '@cap/platform-secrets';
import { EXT_ACCOUNT_PASSWORD_MAX_BYTES, encryptExtAccountPasswords } from './ext-account.passwords';

// A minimal nms:extAccount and a customer schema that links to it, so a document can carry an account sub-element.
const schemas = compileSchemas([
  {
    file: 'nms-ext-account.xml',
    text: `<srcSchema namespace="nms" name="extAccount" implements="xtk:persist" placement="local">
  <element name="extAccount" autopk="true">
    <key name="name"><keyfield xpath="@name"/></key>
    <attribute name="name" type="string" length="64"/>
    <attribute name="password" type="string" length="1024"/>
  </element>
</srcSchema>`,
  },
  {
    file: 'cus-connector.xml',
    text: `<srcSchema namespace="cus" name="connector" implements="xtk:persist" placement="local">
  <element name="connector" autopk="true">
    <attribute name="password" type="string" length="64"/>
    <element name="account" type="link" target="nms:extAccount"/>
  </element>
</srcSchema>`,
  },
]);
const cipher = createSecretCipher(ringOf([{ id: 'unit', key: Buffer.alloc(32, 7) }]));
const other = createSecretCipher(ringOf([{ id: 'unit', key: Buffer.alloc(32, 9) }]));

const run = (xml: string, collection = false): XmlElement => {
  const doc = parseXml(xml);
  encryptExtAccountPasswords(doc, collection, schemas, cipher);
  return doc;
};
const faultOf = (fn: () => unknown): SoapFault => {
  try {
    fn();
  } catch (err) {
    return err as SoapFault;
  }
  throw new Error('expected a fault');
};

describe('encryptExtAccountPasswords', () => {
  it('when an account carries a clear password, then it is replaced by a token of that text', () => {
    const doc = run('<extAccount xtkschema="nms:extAccount" name="a" password="clear"/>');
    const token = doc.attrs['password']!;
    expect(token).toMatch(/^@/);
    expect(cipher.decrypt(token).text).toBe('clear');
  });

  it('when an account carries a token of the instance keys or an empty password, then it is left as is', () => {
    const token = cipher.encrypt('kept');
    expect(run(`<extAccount xtkschema="nms:extAccount" name="a" password="${token}"/>`).attrs['password']).toBe(token);
    expect(run('<extAccount xtkschema="nms:extAccount" name="a" password=""/>').attrs['password']).toBe('');
  });

  it('when the records of a collection and an account given as a link sub-element carry passwords, then each is encrypted and other schemas are untouched', () => {
    const doc = run(
      '<extAccount-collection xtkschema="nms:extAccount"><extAccount name="a" password="one"/><extAccount name="b" password="two"/></extAccount-collection>',
      true,
    );
    expect(doc.children.map((c) => cipher.decrypt(c.attrs['password']!).text)).toEqual(['one', 'two']);
    const linked = run('<connector xtkschema="cus:connector" password="not an account"><account name="a" password="three"/></connector>');
    expect(linked.attrs['password']).toBe('not an account');
    expect(cipher.decrypt(linked.children[0]!.attrs['password']!).text).toBe('three');
  });

  it('when a password starts with "@" but is no token of these keys, then XTK-170200 without the value', () => {
    for (const value of ['@clear-looking', other.encrypt('foreign'), '@']) {
      const fault = faultOf(() => run(`<extAccount xtkschema="nms:extAccount" name="a" password="${value}"/>`));
      expect(fault.code).toBe('XTK-170200');
      if (value.length > 1) expect(fault.message).not.toContain(value);
    }
  });

  it('when a clear password is longer than the limit in UTF-8 bytes, then XTK-170201; at the limit it is encrypted', () => {
    const fault = faultOf(() => run(`<extAccount xtkschema="nms:extAccount" name="a" password="${'é'.repeat(EXT_ACCOUNT_PASSWORD_MAX_BYTES / 2 + 1)}"/>`));
    expect(fault.code).toBe('XTK-170201');
    const atLimit = run(`<extAccount xtkschema="nms:extAccount" name="a" password="${'é'.repeat(EXT_ACCOUNT_PASSWORD_MAX_BYTES / 2)}"/>`);
    expect(atLimit.attrs['password']!.length).toBeLessThanOrEqual(1024);
  });
});
