/** One message ready to leave the platform: rendered, addressed. */
export interface OutboundMessage {
  /** Stable id of the message (its delivery log id): the same message sent again carries the same id. */
  id: string;
  kind: 'email' | 'sms';
  to: string;
  from: string;
  subject: string;
  /** HTML for email, text for SMS. */
  body: string;
  /** Where it comes from (delivery id, event id and type…): written with the message by the file channel, as X- headers by SMTP. */
  meta?: Record<string, string>;
}

/** Why a message was not sent. Temporary failures are worth retrying; permanent ones are not. */
export type FailureKind = 'refused' | 'unknownUser' | 'invalidAddress' | 'unreachable';

export type SendOutcome = { status: 'sent' } | { status: 'failed'; permanent: boolean; kind: FailureKind; message: string };

export interface ChannelBatch {
  /**
   * Names the batch (letters, digits, - _ .): the same batch sent again after a crash uses the same key, so
   * channels that store batches (the file channel) replace it instead of duplicating it.
   */
  key: string;
  messages: OutboundMessage[];
}

/**
 * A way out of the platform (file, SMTP…). `send` answers one outcome per message, in order; it rejects only
 * when the whole batch could not be attempted (the caller retries the batch).
 */
export interface ChannelAdapter {
  readonly name: string;
  send(batch: ChannelBatch): Promise<SendOutcome[]>;
  /** Readiness probe (optional): rejects while the channel cannot send. */
  check?(): Promise<void>;
  close(): Promise<void>;
}
