export {
  ALL_TOPICS,
  SERVICES,
  TOPICS,
  stagedChangeSchema,
  type DeliveryStateChange,
  type MessageCenterEvent,
  type MessageCenterStatus,
  type RecordChange,
  type StagedChange,
  type StagingSynced,
  type SubscriptionChange,
} from './topics.catalogue';
