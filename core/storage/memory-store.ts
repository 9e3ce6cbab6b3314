/**
 * A Store in memory, for tests and for brokers started with `inMemory`. Re-opening the same
 * instance returns what was journaled, so broker restarts can be tested without a disk.
 */
import type {
  JournalEntry, PartitionStore, RecoveredMessage, RetentionPolicy, Store, StoreRecovery, StoredBatchInfo,
} from '../store.js';

const RESOLVED = Promise.resolve();

class MemoryPartition implements PartitionStore {
  private batches: Array<{ info: StoredBatchInfo; bytes: Buffer }> = [];
  logStartOffset = 0;
  nextOffset = 0;
  sizeBytes = 0;

  append(batch: Buffer, info: StoredBatchInfo): Promise<void> {
    this.batches.push({ info, bytes: batch });
    this.nextOffset = info.lastOffset + 1;
    this.sizeBytes += batch.length;
    return RESOLVED;
  }

  read(offset: number, maxBytes: number): Promise<Buffer[]> {
    const out: Buffer[] = [];
    let bytes = 0;
    let i = this.indexOf(offset);
    for (; i < this.batches.length; i++) {
      const b = this.batches[i].bytes;
      if (out.length > 0 && bytes + b.length > maxBytes) break;
      out.push(b);
      bytes += b.length;
    }
    return Promise.resolve(out);
  }

  offsetForTimestamp(timestamp: number): Promise<number | null> {
    for (const b of this.batches) {
      if (b.info.maxTimestamp >= timestamp) return Promise.resolve(Math.max(b.info.baseOffset, this.logStartOffset));
    }
    return Promise.resolve(null);
  }

  recentBatches(): StoredBatchInfo[] {
    return this.batches.map((b) => b.info);
  }

  applyRetention(policy: RetentionPolicy, now: number): Promise<void> {
    // Memory has no segments: retention drops whole batches, keeping the newest one.
    while (this.batches.length > 1) {
      const oldest = this.batches[0];
      const tooOld = policy.retentionMs >= 0 && oldest.info.maxTimestamp < now - policy.retentionMs;
      const tooBig = policy.retentionBytes >= 0 && this.sizeBytes > policy.retentionBytes;
      if (!tooOld && !tooBig) break;
      this.batches.shift();
      this.sizeBytes -= oldest.bytes.length;
      this.logStartOffset = this.batches[0].info.baseOffset;
    }
    return RESOLVED;
  }

  close(): Promise<void> {
    return RESOLVED;
  }

  private indexOf(offset: number): number {
    let lo = 0;
    let hi = this.batches.length - 1;
    let found = this.batches.length;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.batches[mid].info.lastOffset >= offset) {
        found = mid;
        hi = mid - 1;
      } else lo = mid + 1;
    }
    return found;
  }
}

export class MemoryStore implements Store {
  private readonly metadata = new Map<string, Map<string, Buffer>>();
  private readonly messages = new Map<number, RecoveredMessage>();
  private readonly partitions = new Map<string, MemoryPartition>();
  readonly pendingBytes = 0;

  open(): Promise<StoreRecovery> {
    const streams = new Map<string, number>();
    for (const key of this.partitions.keys()) {
      const [stream, p] = splitKey(key);
      streams.set(stream, Math.max(streams.get(stream) ?? 0, p + 1));
    }
    const messages = [...this.messages.values()].sort((a, b) => a.seq - b.seq)
      .map((m) => ({ ...m, queues: [...m.queues], ...(m.deliveryCounts ? { deliveryCounts: [...m.deliveryCounts] } : {}) }));
    const metadata = new Map([...this.metadata].map(([ns, m]) => [ns, new Map(m)]));
    return Promise.resolve({ metadata, messages, streams });
  }

  journal(entries: JournalEntry[]): Promise<void> {
    for (const e of entries) {
      switch (e.kind) {
        case 'put': {
          let ns = this.metadata.get(e.ns);
          if (!ns) this.metadata.set(e.ns, (ns = new Map()));
          ns.set(e.key, e.value);
          break;
        }
        case 'del':
          this.metadata.get(e.ns)?.delete(e.key);
          break;
        case 'enqueue':
          this.messages.set(e.seq, { seq: e.seq, queues: [...e.queues], message: e.message });
          break;
        case 'deliver': {
          const m = this.messages.get(e.seq);
          const i = m ? m.queues.indexOf(e.queue) : -1;
          if (i < 0) break;
          m!.deliveryCounts ??= m!.queues.map(() => 0);
          m!.deliveryCounts[i] = e.count;
          break;
        }
        case 'ack': {
          const m = this.messages.get(e.seq);
          if (!m) break;
          const i = m.queues.indexOf(e.queue);
          if (i >= 0) m.queues.splice(i, 1);
          if (i >= 0) m.deliveryCounts?.splice(i, 1);
          if (m.queues.length === 0) this.messages.delete(e.seq);
          break;
        }
      }
    }
    return RESOLVED;
  }

  openPartition(stream: string, partition: number): Promise<PartitionStore> {
    const key = `${stream}\u0000${partition}`;
    let p = this.partitions.get(key);
    if (!p) this.partitions.set(key, (p = new MemoryPartition()));
    return Promise.resolve(p);
  }

  deleteStream(stream: string): Promise<void> {
    for (const key of [...this.partitions.keys()]) if (splitKey(key)[0] === stream) this.partitions.delete(key);
    return RESOLVED;
  }

  flush(): Promise<void> {
    return RESOLVED;
  }

  close(): Promise<void> {
    return RESOLVED;
  }
}

function splitKey(key: string): [string, number] {
  const i = key.lastIndexOf('\u0000');
  return [key.slice(0, i), Number(key.slice(i + 1))];
}
