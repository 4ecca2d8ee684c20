import { SOAP_FAULTS } from '@cap/campaign-soap';
import type { CallContext } from '../soap/soap-method';

/**
 * The largest parameters the services behind the gateway take, checked here so that an oversized one is refused
 * with a Campaign fault naming the parameter (SOAP_BAD_PARAMETER) before it crosses Kafka. Each mirrors the request schema
 * of the service that handles it (local-store: apps/local-store/src/subscriptions/subscription.rpc-handlers.ts,
 * src/staging/staging.rpc-handlers.ts, src/events/event.rpc-handlers.ts; cloud-executor:
 * apps/cloud-executor/src/workflow/workflow.rpc-handlers.ts, src/delivery/delivery.submit.ts; the data API:
 * libs/adapters/campaign-rpc/src/data-query.handler.ts).
 */
export const PARAM_LIMITS = {
  queryDefChars: 1024 * 1024,
  schemaNameChars: 128,
  serviceNamesChars: 4_096,
  recipientChars: 1024 * 1024,
  eventChars: 1024 * 1024,
  eventsPerCall: 10_000,
  activityNameChars: 200,
  workflowIdChars: 200,
  variableChars: 64 * 1024,
  variablesPerCall: 500,
  scenarioNameChars: 64,
  deliveryContentChars: 8 * 1024 * 1024,
  deliveryIdChars: 40,
} as const;

/** `text` when it is at most `max` characters; otherwise SOAP_BAD_PARAMETER naming the parameter and the limit. */
export function boundedText(ctx: CallContext, param: string, text: string, max: number): string {
  if (text.length > max) throw SOAP_FAULTS.badParameter(ctx.method.name, param, `longer than ${max} characters`);
  return text;
}
