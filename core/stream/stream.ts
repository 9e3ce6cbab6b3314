/**
 * A stream: a named, partitioned, retained log (every Kafka topic is one). Its own name is a
 * topic, so publishes to that topic from any protocol append to it; it may bind more patterns.
 */
import type { Message } from '../message.js';
import type { RetentionPolicy } from '../store.js';
import { partitionForKey } from './murmur2.js';
import { StreamPartition } from './partition.js';
import { encodeBatch, messageToRecord } from './record-codec.js';

export interface StreamConfig extends RetentionPolicy {
  partitions: number;
  /** Stamp batches with the broker's time (Kafka message.timestamp.type=LogAppendTime). */
  logAppendTime: boolean;
  cleanupPolicy: 'delete';
  /** Extra patterns whose messages this stream collects (keyed by their original topic). */
  patterns: string[];
  /** Free-form per-topic configs as Kafka's DescribeConfigs reports them. */
  extra: Record<string, string>;
  /** Copies of each partition the store keeps (the cluster backend; 1 on a single node). */
  replicationFactor: number;
  /** The user whose client created it (limits.maxPartitionsPerUser counts its partitions); absent: configuration or an administrator. */
  owner?: string;
}

export class Stream {
  private roundRobin = 0;

  constructor(readonly name: string, public config: StreamConfig, readonly partitions: StreamPartition[]) {}

  partition(index: number): StreamPartition | undefined {
    return this.partitions[index];
  }

  /** Kafka's default choice: murmur2 of the key, or round robin without one. */
  choosePartition(key: Buffer | undefined): number {
    const n = this.partitions.length;
    if (key && key.length > 0) return partitionForKey(key, n);
    this.roundRobin = (this.roundRobin + 1) % n;
    return this.roundRobin;
  }

  /**
   * Appends messages from other protocols, one batch per partition. A message routed here by an
   * extra pattern (not the stream's own name) is keyed by its original topic when it has no key.
   * `appendElsewhere` may take a partition's batch instead (a cluster sends it to the leader node).
   */
  appendMessages(messages: Message[], appendElsewhere?: (partition: number, batch: Buffer) => Promise<void> | null): Promise<void> {
    const perPartition = new Map<number, Message[]>();
    for (const m of messages) {
      const key = m.key ?? (m.topic !== this.name ? Buffer.from(m.topic, 'utf8') : undefined);
      const keyed = key !== m.key ? { ...m, key } : m;
      const p = this.choosePartition(key);
      let list = perPartition.get(p);
      if (!list) perPartition.set(p, (list = []));
      list.push(keyed);
    }
    const waits: Promise<void>[] = [];
    for (const [p, list] of perPartition) {
      const batch = encodeBatch(list.map(messageToRecord));
      waits.push(appendElsewhere?.(p, batch) ?? this.partitions[p].append(batch).stored);
    }
    return waits.length === 1 ? waits[0] : Promise.all(waits).then(() => undefined);
  }

  get sizeBytes(): number {
    return this.partitions.reduce((n, p) => n + p.sizeBytes, 0);
  }
}
