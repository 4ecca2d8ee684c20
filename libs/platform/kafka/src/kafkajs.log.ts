import { logLevel } from 'kafkajs';

/**
 * At which level a kafkajs log line goes to the service's log. kafkajs logs every error answer to a single request
 * at ERROR, then retries the request itself; a send, a join or a topic creation that finally fails reaches our
 * code, which logs it. So:
 * - an answer kafkajs' protocol table marks retriable (a partition leader not elected yet right after its topic
 *   was created, a leader moving, a coordinator loading) is routine: debug, both as the connection's
 *   "Response …" line and as the producer's "Failed to send messages: …" for one attempt;
 * - a CreateTopics answer naming topics that exist: another process created them at the same moment, which
 *   `Messaging.ensureTopics` checks (it lists the topics again and fails only for those still missing): debug;
 * - other connection-level answers: warn (kafkajs retries them; they matter if they keep coming);
 * - everything else at ERROR stays an error, the rest a warning;
 * - the idempotent producer's warning about bounded retries is deliberate (a send fails in bounded time and its
 *   caller decides: RPC deadlines, the outbox relay's own retry): not logged.
 */
export function kafkajsLogLevel(entry: { namespace: string; level: number; log: { message: string; error?: unknown } }): 'error' | 'warn' | 'debug' | 'none' {
  const { message, error } = entry.log;
  if (message === IDEMPOTENT_RETRY_WARNING) return 'none';
  if (entry.namespace === 'Connection' && message.startsWith('Response ')) {
    if (typeof error === 'string' && isRetriableAnswer(error)) return 'debug';
    if (message.startsWith('Response CreateTopics') && error === 'Topic creation errors') return 'debug';
    return 'warn';
  }
  if (entry.namespace === 'Producer' && message.startsWith(FAILED_SEND) && isRetriableAnswer(message.slice(FAILED_SEND.length))) return 'debug';
  return entry.level <= logLevel.ERROR && entry.namespace !== 'Connection' ? 'error' : 'warn';
}

const IDEMPOTENT_RETRY_WARNING = 'Limiting retries for the idempotent producer may invalidate EoS guarantees';
const FAILED_SEND = 'Failed to send messages: ';

let retriableAnswers: Set<string> | undefined;

/** Whether `message` is the text of a Kafka protocol error kafkajs retries (its table, src/protocol/error.js). */
function isRetriableAnswer(message: string): boolean {
  // kafkajs' own table of protocol errors (not part of its typed API).
  retriableAnswers ??= new Set(
    (require('kafkajs/src/protocol/error') as { errorCodes: { retriable: boolean; message: string }[] }).errorCodes
      .filter((e) => e.retriable)
      .map((e) => e.message),
  );
  return retriableAnswers.has(message);
}
