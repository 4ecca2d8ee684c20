import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { attrLocal, serializeXml } from '@cap/campaign-xml';
import { compileSchemas, schemaToXml } from '../src/index';

const BUILTIN = join(__dirname, '..', 'builtin');
const schemas = compileSchemas(readdirSync(BUILTIN).map((file) => ({ file, text: readFileSync(join(BUILTIN, file), 'utf8') })));

describe('schemaToXml (the form the SDK downloads)', () => {
  it('when xtk:session is served, then the persist interface and the session methods carry lower-case param types', () => {
    const xml = schemaToXml(schemas.get('xtk:session')!);
    expect(xml.attrs).toMatchObject({ namespace: 'xtk', name: 'session', implements: 'xtk:persist' });
    const iface = xml.children.find((c) => c.name === 'interface')!;
    expect(iface.attrs['name']).toBe('persist');
    expect(iface.children.map((m) => m.attrs['name'])).toEqual([
      'NewInstance',
      'Duplicate',
      'Write',
      'WriteCollection',
      'DeleteCollection',
      'GetEntityIfMoreRecent',
    ]);
    const logon = xml.children.find((c) => c.name === 'methods')!.children.find((m) => m.attrs['name'] === 'Logon')!;
    expect(logon.attrs['static']).toBe('true');
    expect(logon.children[0]!.children.map((p) => [p.attrs['name'], p.attrs['type'], p.attrs['inout'] ?? 'in'])).toEqual([
      ['login', 'string', 'in'],
      ['password', 'string', 'in'],
      ['parameters', 'DOMElement', 'in'],
      ['sessionToken', 'string', 'out'],
      ['sessionInfo', 'DOMElement', 'out'],
      ['securityToken', 'string', 'out'],
    ]);
  });

  it("when a schema with links is served, then each link's join source is a node of the served schema (the SDK's joinNodes needs it)", () => {
    // Campaign's compiled schemas carry each foreign key as an attribute (`@folder-id`) beside its link element;
    // the SDK resolves a join's xpath-src in the link's parent element and finds nothing without it.
    for (const id of ['nms:recipient', 'nms:subscription', 'xtk:folder', 'nms:delivery']) {
      const main = schemaToXml(schemas.get(id)!).children.find((c) => c.name === 'element')!;
      const links = main.children.filter((c) => c.attrs['type'] === 'link' && c.attrs['unbound'] !== 'true');
      expect({ id, links: links.length > 0 }).toEqual({ id, links: true });
      for (const link of links) {
        for (const join of link.children.filter((c) => c.name === 'join')) {
          const src = join.attrs['xpath-src']!;
          // `@folder-id` beside the link, or a path into an element of the same parent (`location/@countryCode`).
          const steps = src.split('/');
          const parent = steps
            .slice(0, -1)
            .reduce<typeof main | undefined>((el, step) => el?.children.find((c) => c.name === 'element' && c.attrs['name'] === step), main);
          const attribute = parent?.children.find((c) => c.name === 'attribute' && `@${c.attrs['name']}` === steps[steps.length - 1]);
          expect({ id, link: link.attrs['name'], src, found: attribute !== undefined }).toEqual({ id, link: link.attrs['name'], src, found: true });
          expect(attribute!.attrs['sqlname']).toMatch(/^[a-z0-9_]+$/);
        }
      }
    }
  });

  it('when nms:recipient is served, then enumerations are direct children and the main element nests location and links', () => {
    const xml = schemaToXml(schemas.get('nms:recipient')!);
    expect(xml.children.filter((c) => c.name === 'enumeration').map((e) => e.attrs['name'])).toEqual(['gender', 'emailFormat']);
    const main = xml.children.find((c) => c.name === 'element')!;
    expect(main.attrs).toMatchObject({ name: 'recipient', autopk: 'true', autouuid: 'true', autoStg: 'true' });
    const location = main.children.find((c) => c.name === 'element' && c.attrs['name'] === 'location')!;
    expect(location.children.map((a) => a.attrs['name'])).toEqual(['address1', 'city', 'zipCode', 'countryCode']);
    const folder = main.children.find((c) => c.attrs['name'] === 'folder')!;
    expect(folder.attrs).toMatchObject({ type: 'link', target: 'xtk:folder' });
    // Campaign's country link: joined on the location's country code, so no @country-id is served.
    const country = main.children.find((c) => c.attrs['name'] === 'country')!;
    expect(country.attrs).toMatchObject({ type: 'link', target: 'nms:country' });
    expect(country.children.map((j) => [j.name, j.attrs['xpath-src'], j.attrs['xpath-dst']])).toEqual([['join', 'location/@countryCode', '@isoA2']]);
    expect(main.children.some((c) => c.attrs['name'] === 'country-id')).toBe(false);
    expect(
      attrLocal(
        main.children.find((c) => c.attrs['name'] === 'gender')!,
        'enum',
      ),
    ).toBe('gender');
    // The whole document serialises to XML the SDK's strict parser accepts (no stray markup).
    expect(serializeXml(xml)).toMatch(/^<schema [^>]*namespace="nms"[^>]*>.*<\/schema>$/s);
  });

  it('when nms:delivery is served, then the fields a duplicate resets carry defOnDuplicate (the SDK reads isDefaultOnDuplicate)', () => {
    const delivery = schemas.get('nms:delivery')!;
    expect(delivery.fields.filter((f) => f.defOnDuplicate).map((f) => f.xpath)).toEqual(
      expect.arrayContaining(['@internalName', '@state', '@failureText', 'properties/@processed']),
    );
    expect(delivery.fields.find((f) => f.xpath === '@label')!.defOnDuplicate).toBeUndefined();
    const root = schemaToXml(delivery).children.find((c) => c.name === 'element')!;
    expect(root.children.find((c) => c.attrs['name'] === 'state')!.attrs).toMatchObject({ defOnDuplicate: 'true', default: '0' });
    expect(root.children.find((c) => c.attrs['name'] === 'label')!.attrs).not.toHaveProperty('defOnDuplicate');
  });

  it('when a workflow schema is served, then PostEvent declares the parameters param the SDK maps to <variables>', () => {
    const xml = schemaToXml(schemas.get('xtk:workflow')!);
    const postEvent = xml.children.find((c) => c.name === 'methods')!.children.find((m) => m.attrs['name'] === 'PostEvent')!;
    expect(postEvent.children[0]!.children.map((p) => p.attrs['name'])).toEqual(['workflowId', 'activity', 'transition', 'parameters', 'complete']);
  });
});
