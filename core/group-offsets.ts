/** Consumer-group committed offsets per stream partition, kept by the core (Kafka OffsetCommit/OffsetFetch). */
import type { MetadataStore } from './metadata.js';

const NS = 'group-offset';

export interface CommittedOffset {
  offset: number;
  metadata: string;
  leaderEpoch: number;
  commitTimestamp: number;
}

function keyOf(group: string, stream: string, partition: number): string {
  return `${group}\u0000${stream}\u0000${partition}`;
}

export class GroupOffsets {
  constructor(private readonly metadata: MetadataStore) {}

  /** Commits several offsets of one group as one atomic change. */
  commit(group: string, offsets: Array<{ stream: string; partition: number; offset: number; metadata?: string; leaderEpoch?: number }>): Promise<void> {
    const now = Date.now();
    return this.metadata.batch(offsets.map((o) => ({
      ns: NS,
      key: keyOf(group, o.stream, o.partition),
      value: Buffer.from(JSON.stringify({ offset: o.offset, metadata: o.metadata ?? '', leaderEpoch: o.leaderEpoch ?? -1, commitTimestamp: now })),
    })));
  }

  fetch(group: string, stream: string, partition: number): CommittedOffset | undefined {
    return this.metadata.getJson<CommittedOffset>(NS, keyOf(group, stream, partition));
  }

  /** Every committed offset of a group. */
  list(group: string): Array<{ stream: string; partition: number } & CommittedOffset> {
    const out: Array<{ stream: string; partition: number } & CommittedOffset> = [];
    const prefix = `${group}\u0000`;
    for (const [key, value] of this.metadata.entries(NS)) {
      if (!key.startsWith(prefix)) continue;
      const [, stream, partition] = key.split('\u0000');
      out.push({ stream, partition: Number(partition), ...(JSON.parse(value.toString('utf8')) as CommittedOffset) });
    }
    return out;
  }

  /** Names of every group with committed offsets. */
  groups(): string[] {
    const names = new Set<string>();
    for (const key of this.metadata.entries(NS).keys()) names.add(key.slice(0, key.indexOf('\u0000')));
    return [...names];
  }

  deleteGroup(group: string): Promise<void> {
    const prefix = `${group}\u0000`;
    const keys = [...this.metadata.entries(NS).keys()].filter((k) => k.startsWith(prefix));
    return this.metadata.batch(keys.map((key) => ({ ns: NS, key, value: undefined })));
  }

  /** Drops the offsets of a deleted stream. */
  deleteStream(stream: string): Promise<void> {
    const keys = [...this.metadata.entries(NS).keys()].filter((k) => k.split('\u0000')[1] === stream);
    return keys.length ? this.metadata.batch(keys.map((key) => ({ ns: NS, key, value: undefined }))) : Promise.resolve();
  }
}
