import { logLevel } from 'kafkajs';
import { kafkajsLogLevel } from './kafkajs.log';

const line = (namespace: string, level: number, message: string, error?: string) => ({ namespace, level, log: { message, ...(error ? { error } : {}) } });

describe('kafkajsLogLevel', () => {
  it('when a broker answers a request with an error kafkajs retries (a leader not elected yet), then the line is debug', () => {
    expect(
      kafkajsLogLevel(line('Connection', logLevel.ERROR, 'Response ListOffsets(key: 2, version: 3)', 'This server is not the leader for that topic-partition')),
    ).toBe('debug');
    expect(kafkajsLogLevel(line('Producer', logLevel.ERROR, 'Failed to send messages: This server is not the leader for that topic-partition'))).toBe('debug');
  });

  it('when another process created the same topics at the same moment, then the CreateTopics answer is debug', () => {
    expect(kafkajsLogLevel(line('Connection', logLevel.ERROR, 'Response CreateTopics(key: 19, version: 3)', 'Topic creation errors'))).toBe('debug');
  });

  it('when an answer is not retried, or the client gives up, then it stays a warning or an error', () => {
    expect(
      kafkajsLogLevel(line('Connection', logLevel.ERROR, 'Response Heartbeat(key: 12, version: 3)', 'The group is rebalancing, so a rejoin is needed')),
    ).toBe('warn');
    expect(kafkajsLogLevel(line('Connection', logLevel.ERROR, 'Connection error: connect ECONNREFUSED 127.0.0.1:9092'))).toBe('warn');
    expect(
      kafkajsLogLevel(
        line('Producer', logLevel.ERROR, 'Failed to send messages: The request included a message larger than the max message size the server will accept'),
      ),
    ).toBe('error');
    expect(kafkajsLogLevel(line('Consumer', logLevel.ERROR, 'Crash: KafkaJSNumberOfRetriesExceeded: Connection error'))).toBe('error');
    expect(kafkajsLogLevel(line('Consumer', logLevel.WARN, 'The group is rebalancing, re-joining'))).toBe('warn');
  });

  it('when the idempotent producer warns about its bounded retries (deliberate), then nothing is logged', () => {
    expect(kafkajsLogLevel(line('Producer', logLevel.WARN, 'Limiting retries for the idempotent producer may invalidate EoS guarantees'))).toBe('none');
  });
});
