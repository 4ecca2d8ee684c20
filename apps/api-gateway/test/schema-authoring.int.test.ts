import type pg from 'pg';
import { failure, freePort, sdkLogon, startTestPlatform, uniqueId, waitFor, withDb, type SdkClient, type TestPlatform } from '@cap/platform-testing';

// Adobe's own client, unmodified: its DomUtil parses the XML documents the tests write.
const { DomUtil } = require('@adobe/acc-js-sdk');

/** A local schema authored at run time; `extra` adds fields (a second version). */
const noteSchema = (label: string, extra = '') => `<srcSchema namespace="cus" name="note" label="${label}" implements="xtk:persist" placement="local">
  <element name="note" autopk="true">
    <key name="title"><keyfield xpath="@title"/></key>
    <attribute name="title" type="string" length="64"/>
    <attribute name="stars" type="long" default="3"/>
    ${extra}
  </element>
</srcSchema>`;

/** A cloud schema authored at run time. */
const readingSchema = `<srcSchema namespace="cus" name="reading" label="Readings" implements="xtk:persist" placement="cloud">
  <element name="reading" autopk="true" autouuid="true" dataSource="nms:extAccount:ffda">
    <key name="sensor"><keyfield xpath="@sensor"/></key>
    <attribute name="sensor" type="string" length="64"/>
    <attribute name="value" type="double"/>
  </element>
</srcSchema>`;

// Through Adobe's own client, unmodified: the compatibility bar (docs/schema-authoring.md).
describe('schema authoring at run time through the unmodified SDK', () => {
  let platform: TestPlatform;
  let url: string;
  let admin: SdkClient;
  let mc: SdkClient;

  const logon = (user: string, password: string) => sdkLogon(url, user, password);
  /** xtk:session#Write of a srcSchema document in the XML representation, named by xtkschema as Campaign's are. */
  const author = (client: SdkClient, xml: string) => {
    const doc = DomUtil.parse(xml).documentElement;
    doc.setAttribute('xtkschema', 'xtk:srcSchema');
    return client.NLWS.xml.xtkSession.write(doc);
  };
  const localDb = <T>(fn: (c: pg.Client) => Promise<T>): Promise<T> => withDb(platform.localDb.url, fn);
  const cloudDb = <T>(fn: (c: pg.Client) => Promise<T>): Promise<T> => withDb(platform.cloudDb.url, fn);
  const columns = (db: typeof localDb, table: string) =>
    db(async (c) =>
      (await c.query<{ name: string }>(`SELECT column_name AS name FROM information_schema.columns WHERE table_name = $1`, [table])).rows.map((r) => r.name),
    );
  const select = (client: SdkClient, schema: string, exprs: string[], where?: string) =>
    client.NLWS.xtkQueryDef
      .create({
        schema,
        operation: 'select',
        select: { node: exprs.map((expr) => ({ expr })) },
        ...(where ? { where: { condition: [{ expr: where }] } } : {}),
      })
      .executeQuery();

  beforeAll(async () => {
    // A fixed gateway port: the restart test replaces the gateway under the same address.
    platform = await startTestPlatform({ envFor: { 'api-gateway': { HTTP_PORT: String(await freePort()) } } });
    url = platform.gatewayUrl;
    admin = await logon('admin', 'admin');
    mc = await logon('mc', 'mc');
  });

  afterAll(async () => {
    await platform?.stop();
  });

  it('when a client asks for xtk:srcSchema|nms:rtEvent, then it gets the source schema as written, with its own md5', async () => {
    const src = await admin.getEntityIfMoreRecent('xtk:srcSchema', 'nms:rtEvent', 'xml');
    expect(src.nodeName).toBe('srcSchema');
    expect(src.getAttribute('namespace')).toBe('nms');
    expect(src.getAttribute('name')).toBe('rtEvent');
    const md5 = src.getAttribute('md5');
    expect(md5).toMatch(/^[0-9A-F]{32}$/);
    // The compiled schema is another document, with another digest.
    const compiled = await admin.getEntityIfMoreRecent('xtk:schema', 'nms:rtEvent', 'xml');
    expect(compiled.nodeName).toBe('schema');
    expect(compiled.getAttribute('md5')).not.toBe(md5);
    // A caller holding the current md5 gets nothing; a stale one gets the document.
    expect(await admin.NLWS.xtkSession.getEntityIfMoreRecent('xtk:srcSchema|nms:rtEvent', md5, false)).toBeNull();
    expect((await admin.NLWS.xtkSession.getEntityIfMoreRecent('xtk:srcSchema|nms:rtEvent', '0'.repeat(32), false)).name).toBe('rtEvent');
    expect(await admin.getEntityIfMoreRecent('xtk:srcSchema', 'cus:nothing')).toBeNull();
  });

  it('when an administrator writes a new local srcSchema, then its table exists and the SDK writes and queries its records', async () => {
    await author(admin, noteSchema('Notes'));
    expect(await columns(localDb, 'cus_note')).toEqual(expect.arrayContaining(['title', 'stars']));

    await admin.NLWS.xtkSession.write({ xtkschema: 'cus:note', title: 'first', stars: 5 });
    const notes = await select(admin, 'cus:note', ['@title', '@stars']);
    // SimpleJson carries attribute values as text.
    expect([notes.note].flat()).toEqual([{ title: 'first', stars: '5' }]);
    expect((await admin.getSchema('cus:note', 'SimpleJson')).label).toBe('Notes');
    const src = await admin.getEntityIfMoreRecent('xtk:srcSchema', 'cus:note', 'xml');
    expect(src.getAttribute('label')).toBe('Notes');
    // What the write was about (xtkschema) is not part of the source.
    expect(src.hasAttribute('xtkschema')).toBe(false);
  });

  it('when an administrator writes a cloud srcSchema, then cloud-executor creates its table and serves its records', async () => {
    await author(admin, readingSchema);
    expect(await columns(cloudDb, 'cus_reading')).toEqual(expect.arrayContaining(['sensor', 'value']));
    expect(await columns(localDb, 'cus_reading')).toEqual([]);
    await admin.NLWS.xtkSession.write({ xtkschema: 'cus:reading', sensor: 's1', value: 21.5 });
    const readings = await select(admin, 'cus:reading', ['@sensor', '@value']);
    expect([readings.reading].flat()).toEqual([{ sensor: 's1', value: '21.5' }]);
  });

  it('when nms:recipient is extended with a field, then the SDK writes and reads it, and getSchema sees the new md5', async () => {
    const before = await admin.getSchema('nms:recipient', 'SimpleJson');
    // Written as SimpleJson, as a script would: the SDK names the document after xtkschema.
    await admin.NLWS.xtkSession.write({
      xtkschema: 'xtk:srcSchema',
      namespace: 'cus',
      name: 'recipient',
      extendedSchema: 'nms:recipient',
      label: 'Recipients (loyalty)',
      element: { name: 'recipient', attribute: [{ name: 'loyaltyTier', type: 'string', length: '16', label: 'Loyalty tier' }] },
    });
    expect(await columns(cloudDb, 'nms_recipient')).toContain('loyalty_tier');
    expect(await columns(localDb, 'nms_recipient_stg')).toContain('loyalty_tier');

    const email = `${uniqueId('loyal')}@example.com`;
    await admin.NLWS.xtkSession.write({ xtkschema: 'nms:recipient', _key: '@email', email, loyaltyTier: 'gold' });
    const found = await select(admin, 'nms:recipient', ['@email', '@loyaltyTier'], `@email='${email}'`);
    expect([found.recipient].flat()).toEqual([{ email, loyaltyTier: 'gold' }]);

    // A fresh client downloads the extended schema; the stale digest is refused with the new document.
    const fresh = await logon('admin', 'admin');
    const after = await fresh.getSchema('nms:recipient', 'SimpleJson');
    expect(after.md5).not.toBe(before.md5);
    expect(JSON.stringify(after)).toContain('loyaltyTier');
    // The extension is its own srcSchema entity.
    const ext = await fresh.getEntityIfMoreRecent('xtk:srcSchema', 'cus:recipient', 'xml');
    expect(ext.getAttribute('extendedSchema')).toBe('nms:recipient');
  });

  it('when a client refreshes its caches, then an authored schema change is reported and downloaded again', async () => {
    const watcher = await logon('admin', 'admin');
    watcher.startRefreshCaches(200);
    try {
      expect((await watcher.getSchema('cus:note', 'SimpleJson')).label).toBe('Notes');
      await waitFor('the first cache refresh', async () => watcher._entityCacheRefresher._lastTime !== undefined);
      await author(admin, noteSchema('Notes v2', '<attribute name="mood" type="string" length="16"/>'));
      await waitFor('the SDK to download the changed schema', async () => (await watcher.getSchema('cus:note', 'SimpleJson')).label === 'Notes v2');
      await admin.NLWS.xtkSession.write({ xtkschema: 'cus:note', title: 'second', mood: 'calm' });
      expect([(await select(admin, 'cus:note', ['@mood'], "@title='second'")).note].flat()).toEqual([{ mood: 'calm' }]);
    } finally {
      watcher.stopRefreshCaches();
    }
  });

  describe('hostile authoring', () => {
    it('when an operator who is not an administrator writes a srcSchema, then access is denied and nothing is created', async () => {
      const e = await failure(
        author(mc, noteSchema('Hijacked').replace('name="note"', 'name="mcnote"').replace('<element name="note"', '<element name="mcnote"')),
      );
      expect(e.errorCode).toBe('XSV-350013');
      expect(await columns(localDb, 'cus_mcnote')).toEqual([]);
      expect(await admin.getEntityIfMoreRecent('xtk:srcSchema', 'cus:mcnote')).toBeNull();
    });

    it('when the srcSchema is malformed or does not compile, then XTK-170250 names the problem and nothing is stored', async () => {
      const bad = await failure(
        author(admin, '<srcSchema namespace="cus" name="broken"><element name="broken"><attribute name="x" type="colour"/></element></srcSchema>'),
      );
      expect(bad.errorCode).toBe('XTK-170250');
      expect(bad.faultString).toContain('colour');
      const dangling = await failure(
        author(admin, '<srcSchema namespace="cus" name="orphan" extendedSchema="nms:nothing"><element name="orphan"/></srcSchema>'),
      );
      expect(dangling.errorCode).toBe('XTK-170250');
      expect(await admin.getEntityIfMoreRecent('xtk:srcSchema', 'cus:broken')).toBeNull();
      expect(await localDb(async (c) => (await c.query(`SELECT id FROM cap_authored_schema WHERE id IN ('cus:broken', 'cus:orphan')`)).rowCount)).toBe(0);
    });

    it('when the srcSchema takes the name of a built-in, then XTK-170251 refuses it and the built-in is unchanged', async () => {
      const before = await admin.getEntityIfMoreRecent('xtk:schema', 'xtk:option', 'xml');
      const e = await failure(author(admin, '<srcSchema namespace="xtk" name="option" placement="local"><element name="option" autopk="true"/></srcSchema>'));
      expect(e.errorCode).toBe('XTK-170251');
      const after = await (await logon('admin', 'admin')).getEntityIfMoreRecent('xtk:schema', 'xtk:option', 'xml');
      expect(after.getAttribute('md5')).toBe(before.getAttribute('md5'));
    });

    it('when a new version would drop a field, then DDL-000001 refuses it and the previous version stays in force', async () => {
      await author(
        admin,
        '<srcSchema namespace="cus" name="keep" placement="local"><element name="keep" autopk="true"><attribute name="a" type="string" length="8"/><attribute name="b" type="long"/></element></srcSchema>',
      );
      const e = await failure(
        author(
          admin,
          '<srcSchema namespace="cus" name="keep" placement="local"><element name="keep" autopk="true"><attribute name="a" type="string" length="8"/></element></srcSchema>',
        ),
      );
      expect(e.errorCode).toBe('DDL-000001');
      expect(await columns(localDb, 'cus_keep')).toEqual(expect.arrayContaining(['a', 'b']));
      const src = await admin.getEntityIfMoreRecent('xtk:srcSchema', 'cus:keep', 'xml');
      expect(DomUtil.toXMLString(src)).toContain('name="b"');
    });

    it('when the srcSchema is enormous, then it is refused with a clear fault and the platform keeps serving', async () => {
      const fields = Array.from({ length: 2_500 }, (_, i) => `<attribute name="f${i}" type="long"/>`).join('');
      const e = await failure(
        author(admin, `<srcSchema namespace="cus" name="huge" placement="local"><element name="huge" autopk="true">${fields}</element></srcSchema>`),
      );
      expect(e.errorCode).toBe('XTK-170252');
      expect(await columns(localDb, 'cus_huge')).toEqual([]);
      expect((await admin.getSchema('cus:note', 'SimpleJson')).name).toBe('note');
    });

    it('when one srcSchema is written many times at once, then every write ends and the stored and served versions agree', async () => {
      const versions = Array.from(
        { length: 6 },
        (_, i) =>
          `<srcSchema namespace="cus" name="race" label="v${i}" placement="local"><element name="race" autopk="true"><attribute name="n${i}" type="long"/></element></srcSchema>`,
      );
      // Each version has its own field: each later one drops the fields of those before it, so at most one may win
      // over an existing table; the others are refused as destructive. Never half-applied.
      const outcomes = await Promise.allSettled(versions.map((v) => author(admin, v)));
      const won = outcomes.filter((o) => o.status === 'fulfilled');
      expect(won.length).toBe(1);
      for (const o of outcomes) if (o.status === 'rejected') expect((o.reason as { errorCode: string }).errorCode).toBe('DDL-000001');
      const stored = await localDb(async (c) => (await c.query<{ source: string }>(`SELECT source FROM cap_authored_schema WHERE id = 'cus:race'`)).rows);
      expect(stored).toHaveLength(1);
      const label = /label="(v\d)"/.exec(stored[0]!.source)![1];
      expect((await (await logon('admin', 'admin')).getSchema('cus:race', 'SimpleJson')).label).toBe(label);
      expect((await columns(localDb, 'cus_race')).filter((c) => /^n\d$/.test(c))).toHaveLength(1);
    });
  });

  it('when the gateway, local-store and cloud-executor restart, then the authored schemas are served and used as before', async () => {
    for (const app of ['local-store', 'cloud-executor', 'api-gateway'] as const) {
      await platform.procs.get(app)!.stop();
      await platform.replace(app);
    }
    const fresh = await logon('admin', 'admin');
    expect((await fresh.getSchema('cus:note', 'SimpleJson')).label).toBe('Notes v2');
    await fresh.NLWS.xtkSession.write({ xtkschema: 'cus:reading', sensor: 's2', value: 3 });
    expect([(await select(fresh, 'cus:reading', ['@sensor'], "@sensor='s2'")).reading].flat()).toEqual([{ sensor: 's2' }]);
    const email = `${uniqueId('again')}@example.com`;
    await fresh.NLWS.xtkSession.write({ xtkschema: 'nms:recipient', _key: '@email', email, loyaltyTier: 'silver' });
    expect([(await select(fresh, 'nms:recipient', ['@loyaltyTier'], `@email='${email}'`)).recipient].flat()).toEqual([{ loyaltyTier: 'silver' }]);
  });
});
