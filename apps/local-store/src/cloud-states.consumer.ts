import { TOPICS } from '@cap/contracts';
import { errors } from '@cap/platform-errors';
import { runBatchConsumer, type ConsumerRunner, type Messaging, type QuarantineOptions, type TopicDefinition } from '@cap/platform-kafka';
import type { Logger } from '@cap/platform-logger';
import { classifyPgError, type Pool } from '@cap/platform-postgres';
import { applyDeliveryStates } from './deliveries/delivery-state.apply';
import { applyEventStatuses } from './events/event-status.apply';
import { applyWorkflowStates } from './workflows/workflow-state.apply';

/** The one consumer group that reads the states cloud-executor reports (workflows, message-center verdicts, deliveries). */
export const CLOUD_STATES_CONSUMER = 'local-store-cloud-states';

interface ApplyDeps {
  pool: Pool;
  logger: Logger;
}

/** A topic of the group: its name in the quarantine, its log module, and what applies a batch of its payloads. */
interface StateTopic {
  topic: TopicDefinition<unknown>;
  quarantineName: string;
  module: string;
  apply(deps: ApplyDeps, payloads: unknown[]): Promise<void>;
}

const stateTopic = <T>(
  topic: TopicDefinition<T>,
  quarantineName: string,
  module: string,
  apply: (deps: ApplyDeps, payloads: T[]) => Promise<void>,
): StateTopic => ({
  topic: topic as TopicDefinition<unknown>,
  quarantineName,
  module,
  apply: apply as StateTopic['apply'],
});

/**
 * The handler table, one row per topic. Each topic keeps its own name in the quarantine: their keys (workflow,
 * event and delivery ids) are unrelated, so a quarantined message holds back only later messages of its own topic.
 */
const STATE_TOPICS: readonly StateTopic[] = [
  stateTopic(TOPICS.workflowStateChanged, 'local-store-workflow-state', 'workflow-state', applyWorkflowStates),
  stateTopic(TOPICS.messageCenterStatus, 'local-store-message-center-status', 'event-status', applyEventStatuses),
  stateTopic(TOPICS.deliveryStateChanged, 'local-store-delivery-state', 'delivery-state', applyDeliveryStates),
];

/** The consumer's names in the quarantine, one per topic (the quarantine replayer serves them). */
export const CLOUD_STATES_QUARANTINE_NAMES: readonly string[] = STATE_TOPICS.map((s) => s.quarantineName);

/**
 * Applies what cloud-executor reports to the local database, from one consumer group over the three topics:
 * a batch holds messages of one partition of one topic, in order, and goes to that topic's apply function.
 * Every message carries a whole state (last state wins), so a replay is harmless: a new group reads the topics
 * from their start. A refusal of the data itself (classifyPgError: SQLSTATE classes 22, 23, 42) will not get
 * better: the message is quarantined. Anything else (the database down) is retried; nothing is committed before
 * its batch is applied.
 */
export async function startCloudStatesConsumer(deps: {
  pool: Pool;
  messaging: Messaging;
  logger: Logger;
  quarantine?: QuarantineOptions;
}): Promise<ConsumerRunner> {
  const handlers = new Map(STATE_TOPICS.map((s) => [deps.messaging.topicName(s.topic), { ...s, logger: deps.logger.child({ module: s.module }) }]));
  return runBatchConsumer<unknown>(deps.messaging, {
    groupId: CLOUD_STATES_CONSUMER,
    ...(deps.quarantine
      ? { quarantine: { ...deps.quarantine, consumerByTopic: Object.fromEntries(STATE_TOPICS.map((s) => [s.topic.name, s.quarantineName])) } }
      : {}),
    topics: STATE_TOPICS.map((s) => s.topic),
    maxBatchSize: 2_000,
    maxWaitMs: 250,
    concurrency: STATE_TOPICS.reduce((sum, s) => sum + s.topic.partitions, 0),
    fromBeginning: true,
    async handleBatch(messages) {
      const handler = handlers.get(messages[0]!.topic)!;
      try {
        await handler.apply(
          { pool: deps.pool, logger: handler.logger },
          messages.map((m) => m.envelope.payload),
        );
      } catch (err) {
        if (classifyPgError(err).requestCaused) throw errors.invalidMessage(handler.topic.name, (err as Error).message);
        throw errors.serviceUnavailable('local database', (err as Error).message);
      }
    },
  });
}
