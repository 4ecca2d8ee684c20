/**
 * The next offset to read of each partition, kept in memory by a consumer that commits nothing: first where each
 * partition ended when the consumer became ready (fromReady), then one past each message it has dealt with.
 */
export class PositionBook {
  private readonly next = new Map<string, Map<number, bigint>>();

  /** A partition's starting point, unless the consumer already has a position there. */
  start(topic: string, partition: number, offset: string): void {
    const partitions = this.partitionsOf(topic);
    if (!partitions.has(partition)) partitions.set(partition, BigInt(offset));
  }

  /** The message at `offset` is dealt with: read on from the one after it (never backwards). */
  advance(topic: string, partition: number, offset: string): void {
    const partitions = this.partitionsOf(topic);
    const next = BigInt(offset) + 1n;
    if ((partitions.get(partition) ?? -1n) < next) partitions.set(partition, next);
  }

  all(): { topic: string; partition: number; offset: string }[] {
    return [...this.next].flatMap(([topic, partitions]) => [...partitions].map(([partition, offset]) => ({ topic, partition, offset: offset.toString() })));
  }

  private partitionsOf(topic: string): Map<number, bigint> {
    let partitions = this.next.get(topic);
    if (!partitions) {
      partitions = new Map();
      this.next.set(topic, partitions);
    }
    return partitions;
  }
}
