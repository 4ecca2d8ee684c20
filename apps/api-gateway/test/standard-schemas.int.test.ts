import type pg from 'pg';
import { createSecretCipher, parseSecretKeys, ringOf } from '@cap/platform-secrets';
import { failure, sdkLogon, startTestPlatform, TEST_SECRETS_KEYS, uniqueId, waitFor, withDb, type SdkClient, type TestPlatform } from '@cap/platform-testing';

/** The test platform's instance keys (TEST_SECRETS_KEYS): what the test decrypts stored passwords with. */
const cipherOf = (setting: string) => createSecretCipher(ringOf(parseSecretKeys(setting, 'test').keys));
const cipher = cipherOf(TEST_SECRETS_KEYS);
const TOKEN = /^@[A-Za-z0-9+/]+={0,2}$/;

/**
 * The standard schemas Adobe's SDK samples and documentation query (docs/standard-schemas.md), through the
 * unmodified SDK: the calls of its samples "001 - basics - queries.js" (nms:deliveryMapping), "004 - basics -
 * writer.js" (xtk:image, xtk:folder) and "600 - message center - push event.js" (nms:extAccount), the
 * `temp:group:<id>` schemas of nms:group, nms:country, and the rows a default install has.
 */
describe('standard schemas through the unmodified SDK', () => {
  let platform: TestPlatform;
  let url: string;
  let admin: SdkClient;
  let mc: SdkClient;

  const localQuery = async <T extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<T[]> =>
    (await withDb(platform.localDb.url, (c) => c.query<T>(sql, params))).rows;
  const cloudQuery = async <T extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<T[]> =>
    (await withDb(platform.cloudDb.url, (c) => c.query<T>(sql, params))).rows;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const query = (client: SdkClient, queryDef: Record<string, unknown>): Promise<any> => client.NLWS.xtkQueryDef.create(queryDef).executeQuery();
  const mappingGet = (node: Record<string, unknown>) => ({
    schema: 'nms:deliveryMapping',
    operation: 'get',
    select: { node: [{ expr: '@id' }, { expr: '@name' }, node, { expr: '@schema' }] },
    where: { condition: [{ expr: `@name='mapRecipient'` }] },
  });
  const folderRow = async (name: string) =>
    (await localQuery<{ id: string; full_name: string | null }>('SELECT id::text, full_name FROM xtk_folder WHERE name = $1', [name]))[0];

  beforeAll(async () => {
    // staging-sync copies the replicated schemas (extAccount, folder, group…) to the cloud database.
    platform = await startTestPlatform({ apps: ['local-store', 'cloud-executor', 'staging-sync', 'api-gateway'] });
    url = platform.gatewayUrl;
    admin = await sdkLogon(url, 'admin', 'admin');
    mc = await sdkLogon(url, 'mc', 'mc');
  });

  afterAll(async () => {
    await platform?.stop();
  });

  describe('nms:deliveryMapping (sample 001)', () => {
    it('when the recipient target mapping is read with get, then the seeded mapRecipient comes back with its label and schema', async () => {
      const mapping = await query(admin, {
        schema: 'nms:deliveryMapping',
        operation: 'get',
        select: { node: [{ expr: '@id' }, { expr: '@name' }, { expr: '@label' }, { expr: '@schema' }] },
        where: { condition: [{ expr: `@name='mapRecipient'` }] },
      });
      expect(mapping).toMatchObject({ name: 'mapRecipient', label: 'Recipients', schema: 'nms:recipient' });
      expect(Number(mapping.id)).toBeGreaterThan(0);
    });

    it('when every mapping is selected, a missing one asked with getIfExists, and pages of two read by name, then the default mappings page in order', async () => {
      const all = await query(admin, {
        schema: 'nms:deliveryMapping',
        operation: 'select',
        select: { node: [{ expr: '@id' }, { expr: '@name' }, { expr: '@label' }, { expr: '@schema' }] },
      });
      const names: string[] = all.deliveryMapping.map((m: { name: string }) => m.name);
      expect(names).toEqual(expect.arrayContaining(['mapRecipient', 'mapSubscriptions', 'mapOperator', 'mapRtEvent', 'mapBatchEvent']));
      expect(
        await query(admin, {
          schema: 'nms:deliveryMapping',
          operation: 'getIfExists',
          select: { node: [{ expr: '@id' }, { expr: '@name' }] },
          where: { condition: [{ expr: `@name='mapNotFound'` }] },
        }),
      ).toBeNull();
      const page = async (startLine?: number) =>
        (
          await query(admin, {
            schema: 'nms:deliveryMapping',
            operation: 'select',
            lineCount: 2,
            ...(startLine === undefined ? {} : { startLine }),
            select: { node: [{ expr: '@id' }, { expr: '@name' }] },
            orderBy: { node: [{ expr: '@name' }] },
          })
        ).deliveryMapping.map((m: { name: string }) => m.name);
      const sorted = [...names].sort();
      expect(await page()).toEqual(sorted.slice(0, 2));
      expect(await page(2)).toEqual(sorted.slice(2, 4));
    });

    it('when the exclusion type is read plain, with analyze and with an alias, then it comes back as its value, its name and label, and at the root', async () => {
      const plain = await query(admin, mappingGet({ expr: '[storage/@exclusionType]' }));
      expect(plain.storage).toEqual({ exclusionType: '2' });
      const analyzed = await query(admin, mappingGet({ expr: '[storage/@exclusionType]', analyze: true }));
      expect(analyzed.storage).toEqual({ exclusionType: '2', exclusionTypeName: 'address', exclusionTypeLabel: 'Exclude by address' });
      const aliased = await query(admin, mappingGet({ expr: '[storage/@exclusionType]', alias: '@exclusionType' }));
      expect(aliased).toMatchObject({ name: 'mapRecipient', exclusionType: '2' });
      expect(aliased.storage).toBeUndefined();
    });

    it('when the SQL of the mapRecipient query is built, then it reads the delivery mapping table', async () => {
      const q = admin.NLWS.xtkQueryDef.create({
        schema: 'nms:deliveryMapping',
        operation: 'get',
        select: { node: [{ expr: '@id' }, { expr: '@name' }, { expr: '@label' }, { expr: '@schema' }] },
        where: { condition: [{ expr: `@name='mapRecipient'` }] },
      });
      expect(await q.buildQuery()).toMatch(/nms_delivery_mapping/);
      const [sql, format] = await q.buildQueryEx();
      expect(sql).toMatch(/mapRecipient/);
      expect(format).toBeTruthy();
    });

    it('when a non-admin operator writes a target mapping, then it is refused and nothing is written', async () => {
      const name = uniqueId('map');
      const err = await failure(mc.NLWS.xtkSession.write({ xtkschema: 'nms:deliveryMapping', name, label: 'x', schema: 'nms:recipient' }));
      expect(err.errorCode).toBe('XSV-350013');
      expect(await localQuery('SELECT 1 FROM nms_delivery_mapping WHERE name = $1', [name])).toHaveLength(0);
    });
  });

  describe('nms:extAccount (sample 600, SDK documentation)', () => {
    it('when the default install is queried, then the ffda account the cloud schemas name is there, with Routing and bounce accounts', async () => {
      const accounts = await query(admin, {
        schema: 'nms:extAccount',
        operation: 'select',
        select: { node: [{ expr: '@name' }, { expr: '@type' }, { expr: '@active' }] },
        orderBy: { node: [{ expr: '@name' }] },
      });
      expect(accounts.extAccount).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ name: 'ffda', type: '7' }),
          expect.objectContaining({ name: 'defaultEmailBulk', type: '1' }),
          expect.objectContaining({ name: 'defaultPopAccount', type: '0' }),
        ]),
      );
    });

    it('when the schema and its encryptionType enumeration are read as the SDK documents, then they describe the account', async () => {
      const schema = await admin.getSchema('nms:extAccount', 'xml');
      expect(schema.getAttribute('name')).toBe('extAccount');
      const sysEnum = await admin.application.getSysEnum('nms:extAccount:encryptionType');
      expect(sysEnum.values.map((v: { name: string }) => v.name)).toEqual(['none', 'ssl']);
    });

    it('when an admin writes an execution instance with a clear password, then sample 600 finds it and the password is stored and returned only as a token', async () => {
      const name = uniqueId('mc');
      await admin.NLWS.xtkSession.write({
        xtkschema: 'nms:extAccount',
        name,
        label: 'Execution instance',
        type: 11,
        isMessageCenter: true,
        active: true,
        server: 'https://mc.example.com',
        port: 8443,
        account: 'mc-user',
        password: 'S3cret pass',
        executionInstanceId: 3,
        encryptionType: 1,
      });
      // The query of sample 600, word for word.
      const instances = await query(admin, {
        schema: 'nms:extAccount',
        operation: 'select',
        select: {
          node: [
            { expr: '@id' },
            { expr: '@name' },
            { expr: '@label' },
            { expr: '@active' },
            { expr: '@server' },
            { expr: '@port' },
            { expr: '@account' },
            { expr: '@executionInstanceId' },
          ],
        },
        where: { condition: [{ expr: '@type=11' }, { expr: '@isMessageCenter=true' }] },
      });
      expect(instances.extAccount).toEqual([
        expect.objectContaining({ name, server: 'https://mc.example.com', port: '8443', account: 'mc-user', executionInstanceId: '3' }),
      ]);
      const read = await query(admin, {
        schema: 'nms:extAccount',
        operation: 'get',
        select: { node: [{ expr: '@password' }, { expr: '@encryptionType', analyze: true }] },
        where: { condition: [{ expr: `@name='${name}'` }] },
      });
      expect(read.password).toMatch(TOKEN);
      expect(read.encryptionTypeName).toBe('ssl');
      expect(cipher.decrypt(read.password).text).toBe('S3cret pass');
      const [stored] = await localQuery<{ password: string }>('SELECT password FROM nms_ext_account WHERE name = $1', [name]);
      expect(stored!.password).toBe(read.password);
      // The replicated copy in the cloud database holds the token too, never the clear text.
      const cloud = await waitFor(
        'the account copied to the cloud database',
        async () => (await cloudQuery<{ password: string }>('SELECT password FROM nms_ext_account WHERE name = $1', [name]))[0],
      );
      expect(cloud.password).toBe(stored!.password);
      // A non-admin may read the account (the token is useless without the keys, which stay in the gateway).
      const byMc = await query(mc, {
        schema: 'nms:extAccount',
        operation: 'get',
        select: { node: [{ expr: '@password' }] },
        where: { condition: [{ expr: `@name='${name}'` }] },
      });
      expect(byMc.password).toBe(stored!.password);
    });

    it('when a token of this instance is written, then it is stored as is; a changed password is encrypted again; a collection encrypts every record', async () => {
      const name = uniqueId('acc');
      const token: string = await admin.NLWS.xtkSession.encryptPassword('from EncryptPassword');
      await admin.NLWS.xtkSession.write({ xtkschema: 'nms:extAccount', name, type: 3, password: token });
      const stored = async (n: string) =>
        (await localQuery<{ password: string | null }>('SELECT password FROM nms_ext_account WHERE name = $1', [n]))[0]?.password;
      expect(await stored(name)).toBe(token);
      await admin.NLWS.xtkSession.write({ xtkschema: 'nms:extAccount', _key: '@name', _operation: 'update', name, password: 'changed' });
      expect(cipher.decrypt((await stored(name))!).text).toBe('changed');
      const [a, b] = [uniqueId('acc'), uniqueId('acc')];
      await admin.NLWS.xtkSession.writeCollection({
        xtkschema: 'nms:extAccount',
        extAccount: [
          { name: a, password: 'first' },
          { name: b, password: 'second' },
        ],
      });
      expect(cipher.decrypt((await stored(a))!).text).toBe('first');
      expect(cipher.decrypt((await stored(b))!).text).toBe('second');
      // An empty password is no password: stored empty.
      await admin.NLWS.xtkSession.write({ xtkschema: 'nms:extAccount', _key: '@name', _operation: 'update', name: a, password: '' });
      expect(await stored(a)).toBeFalsy();
    });

    it('when a password starts with "@" but is not a token of this instance, or is too long, then the write is refused and nothing is written', async () => {
      const name = uniqueId('acc');
      const foreign = cipherOf(`test:${Buffer.alloc(32, 0x11).toString('base64')}`).encrypt('other instance');
      for (const password of ['@not-a-token', foreign, `${(await admin.NLWS.xtkSession.encryptPassword('x')).slice(0, -4)}AAA=`]) {
        const err = await failure(admin.NLWS.xtkSession.write({ xtkschema: 'nms:extAccount', name, password }));
        expect(err.errorCode).toBe('XTK-170200');
        expect(err.faultString).not.toContain(password);
      }
      const tooLong = await failure(admin.NLWS.xtkSession.write({ xtkschema: 'nms:extAccount', name, password: 'é'.repeat(300) }));
      expect(tooLong.errorCode).toBe('XTK-170201');
      // A collection with one bad record writes none of them.
      const good = uniqueId('acc');
      const err = await failure(
        admin.NLWS.xtkSession.writeCollection({
          xtkschema: 'nms:extAccount',
          extAccount: [
            { name: good, password: 'fine' },
            { name, password: '@bad' },
          ],
        }),
      );
      expect(err.errorCode).toBe('XTK-170200');
      expect(await localQuery('SELECT 1 FROM nms_ext_account WHERE name = ANY($1)', [[name, good]])).toHaveLength(0);
    });

    it('when a non-admin operator writes or changes an external account, then it is refused and the stored password is unchanged', async () => {
      const err = await failure(mc.NLWS.xtkSession.write({ xtkschema: 'nms:extAccount', name: uniqueId('acc'), password: 'x' }));
      expect(err.errorCode).toBe('XSV-350013');
      const [before] = await localQuery<{ password: string | null; server: string | null }>('SELECT password, server FROM nms_ext_account WHERE name = $1', [
        'defaultEmailBulk',
      ]);
      const change = await failure(
        mc.NLWS.xtkSession.write({ xtkschema: 'nms:extAccount', _key: '@name', name: 'defaultEmailBulk', server: 'evil.example.com', password: 'mine' }),
      );
      expect(change.errorCode).toBe('XSV-350013');
      const [after] = await localQuery<{ password: string | null; server: string | null }>('SELECT password, server FROM nms_ext_account WHERE name = $1', [
        'defaultEmailBulk',
      ]);
      expect(after).toEqual(before);
    });
  });

  describe('xtk:image and xtk:folder (sample 004)', () => {
    const PNG =
      'iVBORw0KGgoAAAANSUhEUgAAABAAAAAQCAYAAAAf8/9hAAAA9ElEQVQ4jaXTIUsFQRSG4eeKiBjEIBeDYDGoSUwGm81s8SdYtIhFhPMDbEaz/SIIZkGbWg1Gg0GwiIgYZPZuWBxn8bJvWXb2O+/scM70lAhjuMO1sF9IVaES61jFnjBbyLQKjurnJz6yr62CsI2t+m0gRhGERZw1Vk6zTFEQ+rjETOP3b7OqBr1G8SRusPYrc4I3LGCeapN37AqP443g8R/FiYNsZcgGSRCmq1ZxmEXa6Yt0hKh6/dAaLbOcd+H/XOGpi2AFU10EqWsTXQQ7wmsSPNdzP8DXCII0D41BSgxvXboHm1jCXDpnPbHfeME9znEh+AFoTyfEnWJgLQAAAABJRU5ErkJggg==';

    it('when an image is written as sample 004 does and a folder is created with it, then both read back, the folder with its image', async () => {
      const imageName = `${uniqueId('img')}.png`;
      await admin.NLWS.xtkSession.write({
        xtkschema: 'xtk:image',
        _operation: 'insert',
        namespace: 'cus',
        name: imageName,
        label: 'Self test',
        type: 'png',
        $data: PNG,
      });
      const image = await query(admin, {
        schema: 'xtk:image',
        operation: 'get',
        select: { node: [{ expr: '@label' }, { expr: '@type' }, { expr: 'data' }] },
        where: { condition: [{ expr: `@namespace='cus' and @name='${imageName}'` }] },
      });
      expect(image).toMatchObject({ label: 'Self test', type: 'png', $data: PNG });

      const parent = uniqueId('root');
      await admin.NLWS.xtkSession.write({ xtkschema: 'xtk:folder', _operation: 'insert', name: parent, label: 'Parent' });
      const parentRow = await folderRow(parent);
      const name = uniqueId('testSDK');
      // The folder of sample 004 (its parent-id is an id of Adobe's own instance: here, the folder just made).
      await admin.NLWS.xtkSession.write({
        xtkschema: 'xtk:folder',
        _operation: 'insert',
        'parent-id': parentRow!.id,
        name,
        label: 'Test SDK',
        entity: 'xtk:folder',
        schema: 'xtk:folder',
        model: 'xtkFolder',
        'image-namespace': 'cus',
        'image-name': imageName,
      });
      const folder = await query(admin, {
        schema: 'xtk:folder',
        operation: 'get',
        select: { node: [{ expr: '@fullName' }, { expr: '@entity' }, { expr: '@schema' }, { expr: '[image/@label]' }, { expr: '[parent/@name]' }] },
        where: { condition: [{ expr: `@name='${name}'` }] },
      });
      expect(folder).toMatchObject({
        fullName: '/Parent/Test SDK/',
        entity: 'xtk:folder',
        schema: 'xtk:folder',
        image: { label: 'Self test' },
        parent: { name: parent },
      });
    });

    it('when a folder is renamed or moved, then the full name of every folder below it follows; a fullName a caller sends is ignored', async () => {
      const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((x) => uniqueId(`f${x}`)) as [string, string, string, string];
      await admin.NLWS.xtkSession.write({ xtkschema: 'xtk:folder', _operation: 'insert', name: a, label: 'Alpha', fullName: '/forged/' });
      const idA = (await folderRow(a))!.id;
      await admin.NLWS.xtkSession.write({ xtkschema: 'xtk:folder', _operation: 'insert', name: b, label: 'Beta', 'parent-id': idA });
      const idB = (await folderRow(b))!.id;
      await admin.NLWS.xtkSession.write({ xtkschema: 'xtk:folder', _operation: 'insert', name: c, 'parent-id': idB });
      await admin.NLWS.xtkSession.write({ xtkschema: 'xtk:folder', _operation: 'insert', name: d, label: 'Delta' });
      const idD = (await folderRow(d))!.id;
      expect((await folderRow(a))!.full_name).toBe('/Alpha/');
      expect((await folderRow(c))!.full_name).toBe(`/Alpha/Beta/${c}/`);

      await admin.NLWS.xtkSession.write({ xtkschema: 'xtk:folder', _key: '@name', _operation: 'update', name: a, label: 'Alpha 2' });
      expect((await folderRow(b))!.full_name).toBe('/Alpha 2/Beta/');
      expect((await folderRow(c))!.full_name).toBe(`/Alpha 2/Beta/${c}/`);

      await admin.NLWS.xtkSession.write({ xtkschema: 'xtk:folder', _key: '@name', _operation: 'update', name: b, 'parent-id': idD });
      expect((await folderRow(c))!.full_name).toBe(`/Delta/Beta/${c}/`);
      const read = await query(admin, {
        schema: 'xtk:folder',
        operation: 'get',
        select: { node: [{ expr: '@fullName' }] },
        where: { condition: [{ expr: `@name='${c}'` }] },
      });
      expect(read.fullName).toBe(`/Delta/Beta/${c}/`);
      // The replicated copy follows.
      await waitFor(
        'the moved path in the cloud copy',
        async () => (await cloudQuery<{ full_name: string }>('SELECT full_name FROM xtk_folder WHERE name = $1', [c]))[0]?.full_name === `/Delta/Beta/${c}/`,
      );
    });

    it('when a folder would be moved under itself or one of its sub-folders, then the write is refused and the tree is unchanged', async () => {
      const [top, mid] = [uniqueId('top'), uniqueId('mid')];
      await admin.NLWS.xtkSession.write({ xtkschema: 'xtk:folder', _operation: 'insert', name: top, label: 'Top' });
      const idTop = (await folderRow(top))!.id;
      await admin.NLWS.xtkSession.write({ xtkschema: 'xtk:folder', _operation: 'insert', name: mid, label: 'Mid', 'parent-id': idTop });
      const idMid = (await folderRow(mid))!.id;
      for (const parent of [idMid, idTop]) {
        const err = await failure(
          admin.NLWS.xtkSession.write({ xtkschema: 'xtk:folder', _key: '@name', _operation: 'update', name: top, 'parent-id': parent }),
        );
        expect(err.errorCode).toBe('PGS-220000');
        expect(err.faultString).toContain('a value breaks a rule of the data model');
      }
      expect((await folderRow(top))!.full_name).toBe('/Top/');
      expect((await folderRow(mid))!.full_name).toBe('/Top/Mid/');
    });
  });

  describe('the folders of a default install (samples 005 and 011)', () => {
    const STANDARD = [
      { name: 'nmsRootRecipient', label: 'Recipients', model: 'nmsRecipient', schema: 'nms:recipient', fullName: '/Recipients/' },
      { name: 'nmsSetOfServices', label: 'Services and Subscriptions', model: 'nmsService', schema: 'nms:service', fullName: '/Services and Subscriptions/' },
      { name: 'nmsVisitor', label: 'Visitors', model: 'nmsVisitor', schema: 'nms:visitor', fullName: '/Visitors/' },
      { name: 'nmsTechnicalWorkflow', label: 'Technical workflows', model: 'xtkWorkflow', schema: 'xtk:workflow', fullName: '/Technical workflows/' },
    ];

    it('when a fresh platform is asked for its folders, then the standard ones are there with their labels, content types and full names', async () => {
      const folders = await query(admin, {
        schema: 'xtk:folder',
        operation: 'select',
        select: { node: [{ expr: '@name' }, { expr: '@label' }, { expr: '@model' }, { expr: '@schema' }, { expr: '@fullName' }, { expr: '@entity' }] },
        where: { condition: [{ expr: `@name IN (${STANDARD.map((f) => `'${f.name}'`).join(', ')})` }] },
        orderBy: { node: [{ expr: '@name' }] },
      });
      const byName = [...STANDARD].sort((a, b) => (a.name < b.name ? -1 : 1));
      expect(folders.folder).toEqual(byName.map((f) => ({ ...f, entity: 'xtk:folder' })));
      // Replicated: the cloud copy has them too, so a cloud query joining [folder/@name] finds them.
      await waitFor(
        'standard folders in the cloud database',
        async () => (await cloudQuery(`SELECT 1 FROM xtk_folder WHERE name = 'nmsRootRecipient'`)).length === 1,
      );
    });

    it('when sample 005 "Set the folder of a recipient" runs, then the recipient is in nmsRootRecipient', async () => {
      const email = `${uniqueId('fold')}@example.com`;
      // The sample's calls: an XtkNewId id, a recipient written with it, then moved to the default folder by name.
      const idList = String(await admin.NLWS.xtkSession.getNewIdsEx(1, 'XtkNewId')).split(',');
      await admin.NLWS.xtkSession.write({ xtkschema: 'nms:recipient', id: idList[0], email });
      await admin.NLWS.xtkSession.write({
        xtkschema: 'nms:recipient',
        id: idList[0],
        _operation: 'update',
        folder: { _operation: 'none', name: 'nmsRootRecipient' },
      });
      const folderId = (await folderRow('nmsRootRecipient'))!.id;
      expect(await cloudQuery('SELECT id, folder_id::text AS folder FROM nms_recipient WHERE email = $1', [email])).toEqual([
        { id: idList[0], folder: folderId },
      ]);
      const read = await waitFor('the recipient with its folder through the SDK', async () => {
        const r = await query(admin, {
          schema: 'nms:recipient',
          operation: 'get',
          select: { node: [{ expr: '@email' }, { expr: '[folder/@name]', alias: '@folderName' }, { expr: '[folder/@label]', alias: '@folderLabel' }] },
          where: { condition: [{ expr: `@email='${email}'` }] },
        });
        return r?.folderName ? r : undefined;
      });
      expect(read).toEqual({ email, folderName: 'nmsRootRecipient', folderLabel: 'Recipients' });
    });

    it('when a recipient names a folder that is not there, or a hostile name, then XTK-170108 and the recipient keeps its folder', async () => {
      const email = `${uniqueId('fold')}@example.com`;
      await admin.NLWS.xtkSession.write({ xtkschema: 'nms:recipient', email, _operation: 'insert', folder: { _operation: 'none', name: 'nmsRootRecipient' } });
      for (const name of ['nmsNoSuchFolder', 'nmsrootrecipient', ' nmsRootRecipient', "nmsRootRecipient' OR '1'='1", '']) {
        const fault = await failure(
          admin.NLWS.xtkSession.write({ xtkschema: 'nms:recipient', _key: '@email', email, _operation: 'update', folder: { _operation: 'none', name } }),
        );
        expect(fault.statusCode).toBe(500);
        expect(fault.errorCode).toMatch(/^XTK-1701\d\d$/);
      }
      const folderId = (await folderRow('nmsRootRecipient'))!.id;
      expect(await cloudQuery('SELECT folder_id::text AS folder FROM nms_recipient WHERE email = $1', [email])).toEqual([{ folder: folderId }]);
    });
  });

  describe('nms:group, nms:rcpGrpRel, nms:country, xtk:enumValue/@img, the webapp operator', () => {
    it('when a list is created and a recipient added to it, then the relation reads back with both sides, and temp:group:<id> of a list without a schema of its own is null', async () => {
      const name = uniqueId('grp');
      await admin.NLWS.xtkSession.write({ xtkschema: 'nms:group', name, label: 'Newsletter readers' });
      const group = await query(admin, {
        schema: 'nms:group',
        operation: 'get',
        select: { node: [{ expr: '@id' }, { expr: '@schema' }] },
        where: { condition: [{ expr: `@name='${name}'` }] },
      });
      expect(group.schema).toBe('nms:recipient');
      expect(await admin.getSchema(`temp:group:${group.id}`, 'xml')).toBeNull();

      const email = `${uniqueId('r')}@example.com`;
      await admin.NLWS.xtkSession.write({ xtkschema: 'nms:recipient', email, _operation: 'insert' });
      const rcp = await query(admin, {
        schema: 'nms:recipient',
        operation: 'get',
        select: { node: [{ expr: '@id' }] },
        where: { condition: [{ expr: `@email='${email}'` }] },
      });
      // The list reaches the cloud database by replication before the relation can join it.
      await waitFor('the list copied to the cloud database', async () => (await cloudQuery('SELECT 1 FROM nms_group WHERE name = $1', [name])).length === 1);
      await admin.NLWS.xtkSession.write({ xtkschema: 'nms:rcpGrpRel', 'recipient-id': rcp.id, 'group-id': group.id });
      const rel = await query(admin, {
        schema: 'nms:rcpGrpRel',
        operation: 'select',
        select: { node: [{ expr: '[recipient/@email]' }, { expr: '[group/@name]' }] },
        where: { condition: [{ expr: `@group-id=${group.id}` }] },
      });
      expect(rel.rcpGrpRel).toEqual([{ recipient: { email }, group: { name } }]);
    });

    it('when countries are queried, then the ISO 3166-1 list is there; a non-admin cannot change it', async () => {
      const count = await query(admin, { schema: 'nms:country', operation: 'count' });
      expect(Number(count.count)).toBeGreaterThanOrEqual(249);
      const fr = await query(admin, {
        schema: 'nms:country',
        operation: 'get',
        select: { node: [{ expr: '@isoA3' }, { expr: '@isoNum' }, { expr: '@label' }] },
        where: { condition: [{ expr: `@isoA2='FR'` }] },
      });
      expect(fr).toEqual({ isoA3: 'FRA', isoNum: '250', label: 'France' });
      const err = await failure(mc.NLWS.xtkSession.write({ xtkschema: 'nms:country', _key: '@isoA2', isoA2: 'FR', label: 'Mine' }));
      expect(err.errorCode).toBe('XSV-350013');
      expect((await localQuery<{ label: string }>(`SELECT label FROM nms_country WHERE iso_a2 = 'FR'`))[0]!.label).toBe('France');
    });

    it("when a recipient has location/@countryCode, then nms:recipient's country link gives its country (SDK findNode/joinNodes, queryDef select and filter)", async () => {
      // The SDK's view of the schema: Campaign's link joined on the country code, walked as the SDK documentation does.
      const recipientSchema = await admin.application.getSchema('nms:recipient');
      const link = await recipientSchema.root.findNode('country');
      expect(link).toMatchObject({ name: 'country', isLink: true, target: 'nms:country' });
      expect(await recipientSchema.root.findNode('country/@isoA3')).toMatchObject({ name: '@isoA3' });
      const joins = await link.joinNodes();
      expect(joins.map((j: { source: { name: string }; destination: { name: string } }) => [j.source.name, j.destination.name])).toEqual([
        ['@countryCode', '@isoA2'],
      ]);
      const broadLog = await admin.application.getSchema('nms:broadLogRcp');
      expect(await broadLog.root.findNode('recipient/country/@isoA3')).toMatchObject({ name: '@isoA3' });

      // The join runs in the cloud database: the seeded countries reach its copy of nms:country by replication.
      await waitFor(
        'the seeded countries copied to the cloud database',
        async () => (await cloudQuery(`SELECT 1 FROM nms_country WHERE iso_a2 IN ('FR', 'DE')`)).length === 2,
      );
      const tag = uniqueId('cty');
      const emails = { fr: `${tag}-fr@example.com`, unknown: `${tag}-zz@example.com`, none: `${tag}-none@example.com` };
      await admin.NLWS.xtkSession.write({ xtkschema: 'nms:recipient', email: emails.fr, _operation: 'insert', location: { countryCode: 'FR' } });
      await admin.NLWS.xtkSession.write({ xtkschema: 'nms:recipient', email: emails.unknown, _operation: 'insert', location: { countryCode: 'ZZ' } });
      await admin.NLWS.xtkSession.write({ xtkschema: 'nms:recipient', email: emails.none, _operation: 'insert' });
      const select = (where: string) =>
        query(admin, {
          schema: 'nms:recipient',
          operation: 'select',
          select: { node: [{ expr: '@email' }, { expr: '[country/@label]' }, { expr: '[country/@isoA3]' }] },
          where: { condition: [{ expr: `@email LIKE '${tag}-%'` }, { expr: where }] },
          orderBy: { node: [{ expr: '@email' }] },
        });
      const all = await waitFor('the three recipients in the cloud database', async () => {
        const r = await select('1=1');
        return r.recipient?.length === 3 ? r.recipient : undefined;
      });
      type Row = { email: string; country?: { label?: string; isoA3?: string } };
      const byEmail = new Map<string, Row['country']>(all.map((r: Row) => [r.email, r.country]));
      expect(byEmail.get(emails.fr)).toEqual({ label: 'France', isoA3: 'FRA' });
      // An unknown code or none: the LEFT JOIN gives nothing, not an error.
      for (const email of [emails.unknown, emails.none]) expect(byEmail.get(email)).toBeUndefined();
      // Filters on the linked country.
      expect((await select(`[country/@isoA3] = 'FRA'`)).recipient.map((r: { email: string }) => r.email)).toEqual([emails.fr]);
      expect((await select(`[country/@label] IS NULL`)).recipient.map((r: { email: string }) => r.email).sort()).toEqual([emails.none, emails.unknown].sort());

      // Injection in a filter on the link: a Campaign-style fault, and the countries are still there.
      for (const expr of [`[country/@isoA3] = 'FRA'; DROP TABLE nms_country`, `[country/@label; DELETE FROM nms_country] = 1`]) {
        const fault = await failure(select(expr));
        expect(fault.statusCode).toBe(500);
        expect(fault.errorCode).toMatch(/^XTK-\d{6}$/);
      }
      const quoted = await select(`[country/@label] = 'x'' OR ''1''=''1'`);
      expect(quoted.recipient ?? []).toEqual([]);
      // Every seeded country has its cloud copy (and the table survived the attempts above).
      await waitFor(
        'the 249 seeded countries in the cloud database',
        async () => Number((await cloudQuery<{ n: string }>(`SELECT count(*)::text AS n FROM nms_country`))[0]!.n) >= 249,
      );
    });

    it('when a recipient names its country by link element, then its country code is set; an unknown, empty or hostile code is an XTK fault and nothing is written', async () => {
      const tag = uniqueId('cty');
      const de = `${tag}-de@example.com`;
      await admin.NLWS.xtkSession.write({ xtkschema: 'nms:recipient', email: de, _operation: 'insert', country: { _operation: 'none', isoA2: 'DE' } });
      const read = await waitFor('the recipient written with its country', async () =>
        query(admin, {
          schema: 'nms:recipient',
          operation: 'getIfExists',
          select: { node: [{ expr: '[location/@countryCode]' }, { expr: '[country/@label]' }] },
          where: { condition: [{ expr: `@email = '${de}'` }] },
        }),
      );
      expect(read).toEqual({ location: { countryCode: 'DE' }, country: { label: 'Germany' } });
      // No such country: XTK-170108; an empty key: XTK-170104; longer than the 2 characters of @isoA2: XTK-170109.
      for (const [isoA2, code] of [
        ['QQ', 'XTK-170108'],
        ['', 'XTK-170104'],
        ["FR' OR '1'='1", 'XTK-170109'],
      ]) {
        const email = `${tag}-bad@example.com`;
        const fault = await failure(
          admin.NLWS.xtkSession.write({ xtkschema: 'nms:recipient', email, _operation: 'insert', country: { _operation: 'none', isoA2 } }),
        );
        expect({ isoA2, ...fault }).toMatchObject({ isoA2, statusCode: 500, errorCode: code });
        expect(await localQuery('SELECT 1 FROM nms_recipient_stg WHERE email = $1', [email])).toEqual([]);
      }
    });

    it('when an enumeration value is written with an image, then @img reads back', async () => {
      const enumName = uniqueId('en');
      await admin.NLWS.xtkSession.write({ xtkschema: 'xtk:enum', name: enumName, label: 'Enum with images' });
      await admin.NLWS.xtkSession.write({ xtkschema: 'xtk:enumValue', name: 'v1', img: 'nms:reco.png', enum: { name: enumName, _operation: 'none' } });
      const value = await query(admin, {
        schema: 'xtk:enumValue',
        operation: 'get',
        select: { node: [{ expr: '@name' }, { expr: '@img' }] },
        where: { condition: [{ expr: `[enum/@name]='${enumName}'` }] },
      });
      expect(value).toEqual({ name: 'v1', img: 'nms:reco.png' });
    });

    it('when enumeration values are queried as sample 002 does (@order selected and sorted on), then they come back in their order, 0 when none was given', async () => {
      const enumName = uniqueId('en');
      await admin.NLWS.xtkSession.write({ xtkschema: 'xtk:enum', name: enumName, label: 'Ordered' });
      for (const [name, order] of [
        ['third', '30'],
        ['first', '10'],
        ['second', '20'],
      ])
        await admin.NLWS.xtkSession.write({ xtkschema: 'xtk:enumValue', name, label: name, order, enum: { name: enumName, _operation: 'none' } });
      await admin.NLWS.xtkSession.write({ xtkschema: 'xtk:enumValue', name: 'unordered', label: 'No order', enum: { name: enumName, _operation: 'none' } });
      // The sample's query, on this enumeration, sorted by @order as its description says.
      const values = await query(admin, {
        schema: 'xtk:enumValue',
        operation: 'select',
        select: { node: [{ expr: '@id' }, { expr: '@name' }, { expr: '@label' }, { expr: '@img' }, { expr: '@order' }] },
        where: { condition: [{ expr: `[enum/@name]='${enumName}'` }] },
        orderBy: { node: [{ expr: '@order' }, { expr: '@name' }] },
      });
      expect(values.enumValue.map((v: { name: string; order: string }) => [v.name, v.order])).toEqual([
        ['unordered', '0'],
        ['first', '10'],
        ['second', '20'],
        ['third', '30'],
      ]);
      // The sample's own where clause: the seeded event types answer too.
      const eventTypes = await query(admin, {
        schema: 'xtk:enumValue',
        operation: 'select',
        select: { node: [{ expr: '@id' }, { expr: '@name' }, { expr: '@label' }, { expr: '@img' }, { expr: '@order' }] },
        where: { condition: [{ expr: `[enum/@name]='eventType'` }] },
        orderBy: { node: [{ expr: '@order' }] },
      });
      expect(eventTypes.enumValue).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'welcome', order: '0' })]));
      // The schema the SDK reads describes it as Campaign's: a long.
      const schema = await admin.application.getSchema('xtk:enumValue');
      expect(schema.root.children.get('@order')).toMatchObject({ name: '@order', type: 'long' });
    });

    it('when @order of an enumeration value is not an integer or out of the long range, then XTK-170103 and nothing is written', async () => {
      const enumName = uniqueId('en');
      await admin.NLWS.xtkSession.write({ xtkschema: 'xtk:enum', name: enumName, label: 'Bad orders' });
      for (const order of ['first', '1.5', '2147483648', '-2147483649', '1e3', '0x10', '1; DROP TABLE xtk_enum_value']) {
        const fault = await failure(
          admin.NLWS.xtkSession.write({ xtkschema: 'xtk:enumValue', name: 'v', order, enum: { name: enumName, _operation: 'none' } }),
        );
        expect(fault).toMatchObject({ statusCode: 500, errorCode: 'XTK-170103' });
      }
      expect(await localQuery('SELECT 1 FROM xtk_enum_value v JOIN xtk_enum e ON e.id = v.enum_id WHERE e.name = $1', [enumName])).toEqual([]);
      const sorted = await failure(
        query(admin, {
          schema: 'xtk:enumValue',
          operation: 'select',
          select: { node: [{ expr: '@order' }] },
          orderBy: { node: [{ expr: '@order; DROP TABLE x' }] },
        }),
      );
      expect(sorted.statusCode).toBe(500);
      expect(sorted.errorCode).toMatch(/^XTK-\d{6}$/);
    });

    it('when the webapp operator of a default install is looked up, then it exists and cannot log on', async () => {
      const op = await query(admin, {
        schema: 'xtk:operator',
        operation: 'get',
        select: { node: [{ expr: '@name' }, { expr: '@label' }] },
        where: { condition: [{ expr: `@name='webapp'` }] },
      });
      expect(op).toEqual({ name: 'webapp', label: 'Web applications agent' });
      for (const password of ['', 'webapp']) expect((await failure(sdkLogon(url, 'webapp', password))).errorCode).toBeTruthy();
    });

    it('when local-store starts again, then the install rows a customer changed are kept and a deleted one is back', async () => {
      await admin.NLWS.xtkSession.write({ xtkschema: 'nms:deliveryMapping', _key: '@name', _operation: 'update', name: 'mapOperator', label: 'Our operators' });
      await localQuery(`DELETE FROM nms_country WHERE iso_a2 = 'ZW'`);
      // The standard folders too: a customer's label is kept, a deleted folder comes back.
      await admin.NLWS.xtkSession.write({ xtkschema: 'xtk:folder', _key: '@name', _operation: 'update', name: 'nmsTechnicalWorkflow', label: 'Our workflows' });
      await localQuery(`DELETE FROM xtk_folder WHERE name = 'nmsVisitor'`);
      const before = (await localQuery<{ n: string }>('SELECT count(*)::text AS n FROM nms_delivery_mapping'))[0]!.n;
      await platform.procs.get('local-store')!.stop();
      await platform.replace('local-store');
      expect((await localQuery<{ label: string }>(`SELECT label FROM nms_delivery_mapping WHERE name = 'mapOperator'`))[0]!.label).toBe('Our operators');
      expect(await localQuery(`SELECT 1 FROM nms_country WHERE iso_a2 = 'ZW'`)).toHaveLength(1);
      expect(await localQuery(`SELECT label, full_name FROM xtk_folder WHERE name = 'nmsTechnicalWorkflow'`)).toEqual([
        { label: 'Our workflows', full_name: '/Our workflows/' },
      ]);
      expect(await localQuery(`SELECT label FROM xtk_folder WHERE name = 'nmsVisitor'`)).toEqual([{ label: 'Visitors' }]);
      expect((await localQuery<{ n: string }>('SELECT count(*)::text AS n FROM nms_delivery_mapping'))[0]!.n).toBe(before);
    });
  });
});
