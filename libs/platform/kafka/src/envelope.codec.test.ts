import { z } from 'zod';
import { AppError, ErrorCodes } from '@cap/platform-errors';
import { decodeEnvelope, encodeEnvelope } from './envelope.codec';
import { defineTopic } from './topic.definition';

const topic = defineTopic({
  name: 'test.thing.happened.v2',
  partitions: 1,
  retentionMs: 1000,
  schemaVersion: 2,
  deadLetter: true,
  description: 't',
  payload: z.object({ id: z.string(), n: z.number().int() }),
});

function decodeError(value: Buffer | null): AppError {
  try {
    decodeEnvelope(topic, value);
  } catch (err) {
    return err as AppError;
  }
  throw new Error('expected decode to fail');
}

describe('envelope codec', () => {
  it('when a payload is encoded and decoded, then it comes back with the topic type and schema version', () => {
    const decoded = decodeEnvelope(topic, encodeEnvelope(topic, { id: 'a', n: 1 }));
    expect(decoded.payload).toEqual({ id: 'a', n: 1 });
    expect(decoded.type).toBe('test.thing.happened.v2');
    expect(decoded.schemaVersion).toBe(2);
    expect(decoded.id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('when a producer passes a payload its topic rejects, then encoding throws instead of publishing', () => {
    expect(() => encodeEnvelope(topic, { id: 'a', n: 1.5 })).toThrow(/invalid test.thing.happened.v2 payload/);
  });

  it.each([
    ['an empty value', null, 'empty message value'],
    ['non-JSON', Buffer.from('{oops'), 'not JSON'],
    ['JSON that is not an envelope', Buffer.from('{"hello":1}'), 'not an envelope'],
    [
      'a newer schema version',
      Buffer.from(JSON.stringify({ schemaVersion: 3, id: '1', type: 't', occurredAt: 'x', payload: { id: 'a', n: 1 } })),
      'newer than the supported 2',
    ],
    ['a payload failing its schema', Buffer.from(JSON.stringify({ schemaVersion: 2, id: '1', type: 't', occurredAt: 'x', payload: { id: 7 } })), 'id'],
  ])('when the value is %s, then decoding fails with a non-retriable INVALID_MESSAGE saying why', (_label, value, reason) => {
    const err = decodeError(value);
    expect(err).toBeInstanceOf(AppError);
    expect(err.code).toBe(ErrorCodes.INVALID_MESSAGE);
    expect(err.retriable).toBe(false);
    expect(err.message).toContain(reason);
  });

  it('when an older schema version arrives, then it is still accepted', () => {
    const v1 = Buffer.from(JSON.stringify({ schemaVersion: 1, id: '1', type: 't', occurredAt: 'x', payload: { id: 'a', n: 1 } }));
    expect(decodeEnvelope(topic, v1).payload).toEqual({ id: 'a', n: 1 });
  });

  it('when a topic name breaks the naming convention, then defining it fails', () => {
    expect(() => defineTopic({ ...topic, name: 'Orders' })).toThrow(/<domain>.<entity>.<event>.v<N>/);
  });
});
