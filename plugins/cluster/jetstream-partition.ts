/**
 * One stream partition stored in its own JetStream stream (R1-R3): one JetStream message per
 * record batch, the batch bytes as received with the base offset already assigned. Offsets are
 * dense because only the partition's leader appends; JetStream sequences count batches, and the
 * batch header says which offsets each holds, so offset -> sequence is a binary search over
 * sequences (as KoP does over BookKeeper entries), helped by a cache of the newest batches.
 *
 * Fencing: every append carries the sequence the leader expects the stream to end at
 * (`Nats-Expected-Last-Sequence`). A stale leader that comes back after another node took over
 * fails that check, is fenced, and answers "not leader" until it resyncs: it can never overwrite
 * or interleave with what the new leader wrote.
 */
import type { JetStreamClient, JetStreamManager, StoredMsg, StreamConfig as JsStreamConfig } from '@nats-io/jetstream';
import { NotLeaderError } from '../../core/cluster.js';
import type { Logger } from '../../core/adapter.js';
import type { PartitionStore, RetentionPolicy, StoredBatchInfo } from '../../core/store.js';
import { readBatchHeader } from '../../core/stream/batch-header.js';

/** JetStream's error code for a failed `Nats-Expected-Last-Sequence` check. */
const WRONG_LAST_SEQUENCE = 10071;
/** Batches whose headers rebuild idempotent-producer state after a leader change. */
const RECENT_BATCHES = 16;
/** Newest batches kept in memory so consumers at the tail need no JetStream round trip. */
const TAIL_BYTES = 8 * 1024 * 1024;
const LOG_START_REFRESH_MS = 10_000;

interface CachedBatch { seq: number; base: number; last: number; bytes: Buffer }

function infoOf(bytes: Uint8Array): StoredBatchInfo {
  const h = readBatchHeader(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  return {
    baseOffset: h.baseOffset, lastOffset: h.baseOffset + h.lastOffsetDelta, maxTimestamp: h.maxTimestamp,
    producerId: h.producerId, producerEpoch: h.producerEpoch, baseSequence: h.baseSequence,
  };
}

export function jetStreamConfig(name: string, subject: string, policy: RetentionPolicy): Partial<JsStreamConfig> & { name: string } {
  return {
    name,
    subjects: [subject],
    num_replicas: Math.max(1, policy.replicationFactor ?? 1),
    max_age: policy.retentionMs > 0 ? policy.retentionMs * 1_000_000 : 0,
    max_bytes: policy.retentionBytes > 0 ? policy.retentionBytes : -1,
    allow_direct: true,
  } as Partial<JsStreamConfig> & { name: string };
}

export class JetStreamPartition implements PartitionStore {
  logStartOffset = 0;
  nextOffset = 0;
  sizeBytes = 0;
  /** Sequence of the last batch the stream is known (or, with appends in flight, expected) to hold. */
  private expectedSeq = 0;
  private firstSeq = 1;
  private fenced = false;
  private recent: StoredBatchInfo[] = [];
  private tail: CachedBatch[] = [];
  private tailBytes = 0;
  /** Sequence -> [base, last] offsets of batches looked up before (binary-search probes). */
  private readonly probes = new Map<number, [number, number]>();
  private lastLogStartRefresh = 0;

  constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    readonly streamName: string,
    readonly subject: string,
    private readonly log: Logger,
  ) {}

  /** True after an append failed: the leader must resync before appending again. */
  get isFenced(): boolean {
    return this.fenced;
  }

  fence(): void {
    this.fenced = true;
  }

  async refresh(): Promise<void> {
    const info = await this.jsm.streams.info(this.streamName);
    const { first_seq: first, last_seq: last, bytes, messages } = info.state;
    this.firstSeq = Math.max(first, 1);
    this.expectedSeq = last;
    this.sizeBytes = bytes;
    this.tail = [];
    this.tailBytes = 0;
    this.probes.clear();
    this.recent = [];
    if (messages === 0) {
      // Empty (or everything expired): the next offset survives in the stream's last sequence header-less, so keep ours.
      this.logStartOffset = this.nextOffset;
      this.fenced = false;
      return;
    }
    for (let seq = Math.max(this.firstSeq, last - RECENT_BATCHES + 1); seq <= last; seq++) {
      const m = await this.get(seq);
      if (m) this.recent.push(infoOf(m.data));
    }
    const newest = this.recent[this.recent.length - 1];
    this.nextOffset = newest ? newest.lastOffset + 1 : this.nextOffset;
    this.logStartOffset = (await this.locateFirst())?.[0] ?? this.nextOffset;
    this.fenced = false;
  }

  async append(batch: Buffer, info: StoredBatchInfo): Promise<void> {
    if (this.fenced) throw new NotLeaderError(`partition ${this.streamName} must resync before appending`);
    const expected = this.expectedSeq++;
    try {
      const ack = await this.js.publish(this.subject, batch, { expect: { lastSequence: expected }, timeout: 10_000 });
      this.nextOffset = Math.max(this.nextOffset, info.lastOffset + 1);
      this.sizeBytes += batch.length;
      this.remember({ seq: ack.seq, base: info.baseOffset, last: info.lastOffset, bytes: batch }, info);
    } catch (err) {
      this.fenced = true;
      const code = (err as { code?: number; api_error?: { err_code?: number } }).api_error?.err_code ?? (err as { code?: number }).code;
      if (code === WRONG_LAST_SEQUENCE) throw new NotLeaderError(`partition ${this.streamName} was written by another leader`);
      this.log.warn({ stream: this.streamName, err: (err as Error).message }, 'cluster: append to JetStream failed; resyncing');
      throw err;
    }
  }

  async read(offset: number, maxBytes: number): Promise<Buffer[]> {
    if (offset >= this.nextOffset) return [];
    const out: Buffer[] = [];
    let size = 0;
    // From the in-memory tail when it covers the offset.
    const t = this.tail;
    if (t.length > 0 && offset >= t[0].base) {
      for (const b of t) {
        if (b.last < offset) continue;
        if (out.length > 0 && size + b.bytes.length > maxBytes) break;
        out.push(b.bytes);
        size += b.bytes.length;
      }
      return out;
    }
    let seq = await this.seqOf(offset);
    if (seq === null) return [];
    const lastSeq = this.expectedSeq;
    for (; seq <= lastSeq && (out.length === 0 || size < maxBytes); seq++) {
      const m = await this.get(seq);
      if (!m) continue;
      const bytes = Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength);
      if (out.length > 0 && size + bytes.length > maxBytes) break;
      out.push(bytes);
      size += bytes.length;
    }
    return out;
  }

  async offsetForTimestamp(timestamp: number): Promise<number | null> {
    // Batches are appended in time order closely enough for a binary search on max timestamps.
    let lo = this.firstSeq;
    let hi = this.expectedSeq;
    let found: number | null = null;
    while (lo <= hi) {
      const mid = Math.floor((lo + hi) / 2);
      const m = await this.get(mid);
      if (!m) { lo = mid + 1; continue; }
      const info = infoOf(m.data);
      if (info.maxTimestamp >= timestamp) { found = info.baseOffset; hi = mid - 1; } else lo = mid + 1;
    }
    return found;
  }

  recentBatches(): StoredBatchInfo[] {
    return this.recent;
  }

  /** JetStream applies max_age / max_bytes itself; the log start is re-read now and then. */
  async applyRetention(_policy: RetentionPolicy, now: number): Promise<void> {
    if (this.expectedSeq === 0 || now - this.lastLogStartRefresh < LOG_START_REFRESH_MS) return;
    this.lastLogStartRefresh = now;
    const info = await this.jsm.streams.info(this.streamName);
    this.firstSeq = Math.max(info.state.first_seq, 1);
    this.sizeBytes = info.state.bytes;
    const first = await this.locateFirst();
    if (first) this.logStartOffset = first[0];
  }

  async close(): Promise<void> {
    this.tail = [];
    this.probes.clear();
  }

  private remember(batch: CachedBatch, info: StoredBatchInfo): void {
    this.tail.push(batch);
    this.tailBytes += batch.bytes.length;
    while (this.tailBytes > TAIL_BYTES && this.tail.length > 1) this.tailBytes -= this.tail.shift()!.bytes.length;
    this.recent.push(info);
    if (this.recent.length > RECENT_BATCHES) this.recent.shift();
  }

  private async get(seq: number): Promise<StoredMsg | null> {
    try {
      return await this.jsm.streams.getMessage(this.streamName, { seq });
    } catch (err) {
      if ((err as { code?: number }).code === 10037 || /no message found/i.test((err as Error).message)) return null;
      throw err;
    }
  }

  private async offsetsAt(seq: number): Promise<[number, number] | null> {
    const known = this.probes.get(seq);
    if (known) return known;
    const m = await this.get(seq);
    if (!m) return null;
    const info = infoOf(m.data);
    const range: [number, number] = [info.baseOffset, info.lastOffset];
    if (this.probes.size > 4096) this.probes.clear();
    this.probes.set(seq, range);
    return range;
  }

  private async locateFirst(): Promise<[number, number] | null> {
    for (let seq = this.firstSeq; seq <= this.expectedSeq; seq++) {
      const r = await this.offsetsAt(seq);
      if (r) {
        this.firstSeq = seq;
        return r;
      }
    }
    return null;
  }

  /** The sequence of the batch holding `offset` (or the first one after it), by binary search. */
  private async seqOf(offset: number): Promise<number | null> {
    let lo = this.firstSeq;
    let hi = this.expectedSeq;
    let best: number | null = null;
    while (lo <= hi) {
      const mid = Math.floor((lo + hi) / 2);
      const r = await this.offsetsAt(mid);
      if (!r) { lo = mid + 1; continue; }
      if (r[1] < offset) lo = mid + 1;
      else { best = mid; hi = mid - 1; }
    }
    return best;
  }
}
