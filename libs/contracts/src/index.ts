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
export {
  REPORTING_SUMMARY_METHOD,
  reportingSummaryParamsSchema,
  type DeliveryIndicators,
  type DeliveryReport,
  type EventTypeReport,
  type ReportingSummary,
  type ReportingSummaryParams,
} from './reporting.contract';
export { OPERATOR_STATE_METHOD, operatorStateKey, operatorStateSchema, type OperatorState } from './operator-state.contract';
