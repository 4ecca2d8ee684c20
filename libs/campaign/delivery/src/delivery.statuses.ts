/** nms:broadLogRcp / nms:broadLogEvent @status (nms:broadLogRcp:status). */
export const BroadLogStatus = { pending: 0, sent: 1, failed: 2, ignored: 3, expired: 4 } as const;

/** nms:broadLogRcp @failureReason (nms:broadLogRcp:failureReason): Campaign's numbers where it has one. */
export const FailureReason = {
  none: 0,
  unknownUser: 1,
  invalidDomain: 2,
  unreachable: 3,
  denylisted: 8,
  noTemplate: 12,
  expired: 13,
  rendering: 15,
  refused: 20,
} as const;
export type FailureReasonCode = (typeof FailureReason)[keyof typeof FailureReason];

/** nms:rtEvent / nms:batchEvent @status. */
export const EventStatus = { pending: 0, processing: 1, sent: 2, failed: 3, ignored: 4, expired: 5 } as const;

/** nms:delivery @state (nms:delivery:state). */
export const DeliveryState = { edition: 0, targeting: 11, targeted: 25, started: 45, running: 55, paused: 72, stopped: 85, finished: 95, failed: 99 } as const;
