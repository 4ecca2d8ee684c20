/**
 * Where a consumer puts a message it cannot process (after its retries) instead of letting it block its
 * partition, and the later messages of the same key, which wait behind it so that one key keeps its order.
 * An administrator inspects them and asks for a replay or a discard (`npm run quarantine`); the service that owns
 * the consumer then sends the replayed ones back to their topic (startQuarantineReplayer in @cap/platform-runtime).
 * Implemented over PostgreSQL by @cap/platform-postgres (createPgQuarantine).
 */
export interface QuarantineEntry {
  /** The consumer (its group id, or `outbox-relay`). */
  consumer: string;
  /** The physical topic the message came from (or goes to, for the outbox relay). */
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  value: Buffer | null;
  headers: Record<string, string>;
  reasonCode: string;
  reason: string;
  /** `quarantined`: it failed; `held`: it waits behind a quarantined message of its key. */
  state: 'quarantined' | 'held';
}

export interface QuarantineReplay {
  id: string;
  consumer: string;
  topic: string;
  key: string | null;
  value: Buffer | null;
  headers: Record<string, string>;
}

export interface MessageQuarantine {
  /** True when the consumer has a quarantined message (only then are keys looked up, one batch at a time). */
  hasQuarantined(consumer: string): Promise<boolean>;
  /** The keys among `keys` whose consumer has a quarantined message: their messages are held. */
  heldKeys(consumer: string, keys: string[]): Promise<Set<string>>;
  put(entries: QuarantineEntry[]): Promise<void>;
  /** Messages an administrator released (replay or discard of the one ahead), oldest first. */
  takeReplays(consumers: string[], limit: number): Promise<QuarantineReplay[]>;
  /** Replayed messages, removed from the quarantine. */
  replayed(ids: string[]): Promise<void>;
}
