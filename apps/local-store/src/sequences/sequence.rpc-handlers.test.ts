import { compileSchemas } from '@cap/campaign-schema';
import type { RpcContext } from '@cap/platform-kafka';
import type { Pool } from '@cap/platform-postgres';
import { createSequenceRpcHandlers, MAX_IDS_PER_CALL, sequenceFor } from './sequence.rpc-handlers';

const schemas = compileSchemas([
  {
    file: 'cus-shop.xml',
    text: `<srcSchema namespace="cus" name="shop" placement="local"><element name="shop" autopk="true"><attribute name="name" type="string"/></element></srcSchema>`,
  },
  {
    file: 'cus-visit.xml',
    text: `<srcSchema namespace="cus" name="visit" dataSource="nms:extAccount:ffda"><element name="visit" autopk="true" autouuid="true"><attribute name="page" type="string"/></element></srcSchema>`,
  },
]);

describe('sequence.reserve', () => {
  const queries: { text: string; values: unknown[] }[] = [];
  const pool = {
    query: async (text: string, values: unknown[]) => {
      queries.push({ text, values });
      return { rows: Array.from({ length: values[values.length - 1] as number }, (_, i) => ({ id: String(1_000_000_000_000 + i) })) };
    },
  } as unknown as Pool;
  const handler = createSequenceRpcHandlers({ pool, schemas })['sequence.reserve']!;
  const reserve = (params: unknown) => handler(params, {} as RpcContext);

  beforeEach(() => (queries.length = 0));

  it('when a sequence of a default install is named in any case, then its ids come from the xtknewid sequence; an unknown name has none', () => {
    expect(sequenceFor('XtkNewId')).toBe('xtknewid');
    expect(sequenceFor('XTKNEWID')).toBe('xtknewid');
    // One sequence behind every name: ids of two names written into one key never meet (sequence.rpc-handlers.ts).
    for (const name of ['NmsRecipientId', 'nmsrecipientid', 'NmsBroadLogId', 'NmsTrackingLogId']) expect(sequenceFor(name)).toBe('xtknewid');
    expect(sequenceFor('NmsDeliveryId')).toBeUndefined();
    expect(sequenceFor('xtknewid; DROP TABLE x')).toBeUndefined();
    expect(sequenceFor('__proto__')).toBeUndefined();
  });

  it("when the DeliveryId counter is named, then its values come from the deliveryid sequence (nms:delivery's DM<n>)", () => {
    expect(sequenceFor('DeliveryId')).toBe('deliveryid');
  });

  it('when ids are asked of XtkNewId, then that many are taken in one statement', async () => {
    expect(await reserve({ count: 3, sequence: 'XtkNewId' })).toEqual({ ids: ['1000000000000', '1000000000001', '1000000000002'] });
    expect(queries).toEqual([{ text: "SELECT nextval('xtknewid')::text AS id FROM generate_series(1, $1::int)", values: [3] }]);
  });

  it("when an id is asked for a local schema with a generated key, then it comes from its table's own sequence", async () => {
    await reserve({ count: 1, schema: 'cus:shop' });
    expect(queries[0]).toEqual({
      text: 'SELECT nextval(pg_get_serial_sequence($1, $2))::text AS id FROM generate_series(1, $3::int)',
      values: ['"cus_shop"', 'id', 1],
    });
  });

  it.each([
    [{ count: 0, sequence: 'XtkNewId' }, 'CAP-100301'],
    [{ count: MAX_IDS_PER_CALL + 1, sequence: 'XtkNewId' }, 'CAP-100301'],
    [{ count: 1.5, sequence: 'XtkNewId' }, 'CAP-100301'],
    [{ count: 1 }, 'CAP-100301'],
    [{ count: 1, sequence: 'XtkNewId', schema: 'cus:shop' }, 'CAP-100301'],
    [{ count: 1, sequence: 'nope' }, 'CAP-100301'],
    [{ count: 1, schema: 'cus:visit' }, 'XTK-170101'],
    [{ count: 1, schema: 'cus:nothing' }, 'XTK-170101'],
  ])('when the request is %j, then it is refused with %s and nothing is taken', async (params, code) => {
    await expect(reserve(params)).rejects.toMatchObject({ code });
    expect(queries).toEqual([]);
  });
});
