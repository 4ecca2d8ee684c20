/**
 * @cap/campaign-delivery — deliveries and transactional messages without I/O: personalised templates
 * (`<%= recipient.firstName %>`, parsed, never evaluated as code), SubmitDelivery's template + fragment merge,
 * the target as a compiled queryDef on nms:recipient, message data for recipients and events, statuses.
 */
export {
  checkTemplatePaths,
  compileTemplate,
  escapeHtml,
  renderTemplate,
  type CompiledTemplate,
  type RenderData,
  type TemplateExpr,
  type TemplatePart,
} from './personalisation.template';
export { TemplateError, isTemplateError, type TemplateErrorKind } from './template.error';
export { DeliveryError, isDeliveryError } from './delivery.error';
export {
  mergeDeliveryFragment,
  prepareDelivery,
  readTargetConditions,
  renderDeliveryMessage,
  type DeliveryDefinition,
  type PreparedDelivery,
  type RenderOutcome,
} from './delivery.definition';
export { compileDeliveryTarget, eventCtxData, personalisationFields, recipientData, RECIPIENT_SCHEMA, type PersonalisationField } from './delivery.target';
export { BroadLogStatus, DeliveryState, EventStatus, FailureReason, type FailureReasonCode } from './delivery.statuses';
export {
  applyDeliveryCommand,
  deliveryStateOf,
  parseDeliveryCommand,
  type DeliveryCommand,
  type DeliveryCommandOutcome,
  type DeliveryJobCommandState,
  type DeliveryJobPhase,
} from './delivery.command';
