export {
  ALL_TOPICS,
  SERVICES,
  TOPICS,
  stagedChangeSchema,
  type RecordChange,
  type StagedChange,
  type StagingSynced,
  type SubscriptionChange,
} from './topics.catalogue';
