/**
 * One stream partition: assigns dense offsets to appended batches, enforces idempotent-producer
 * sequences, exposes the high watermark (what is stored) and wakes long-polling readers.
 */
import type { PartitionStore, RetentionPolicy } from '../store.js';
import { setBaseOffset, setLogAppendTime, validateBatch } from './batch-header.js';

/** Kafka-compatible reasons an append is refused. */
export class AppendError extends Error {
  override readonly name = 'AppendError';
  constructor(message: string, readonly code: 'out-of-order-sequence' | 'producer-fenced' | 'corrupt' | 'unsupported') {
    super(message);
  }
}

export interface AppendResult {
  baseOffset: number;
  /** Log-append time given to the batch, or -1 when the producer's timestamps are kept. */
  logAppendTime: number;
  /** The batch was a retry of one already stored; nothing was written. */
  duplicate: boolean;
  /** Resolves when the batch is stored per the fsync policy. */
  stored: Promise<void>;
}

interface SequencedBatch { firstSeq: number; lastSeq: number; baseOffset: number }
interface ProducerState { epoch: number; batches: SequencedBatch[] }

const PRODUCER_BATCHES_KEPT = 5;
const RESOLVED = Promise.resolve();

export class StreamPartition {
  private next: number;
  private watermark: number;
  private readonly producers = new Map<bigint, ProducerState>();
  private waiters: Array<{ offset: number; wake: () => void }> = [];
  /** Appends handed to the log and not yet settled. */
  private inFlight = 0;
  /**
   * An append was refused by the log (a write error): offsets given out after the last stored batch
   * were never stored, and the log ends lower than `next`. Once nothing is in flight, the next
   * append continues from the log's end (a local store that recovered from a full disk).
   */
  private refused = false;
  /** When the partition last took its state from the shared log (cluster), 0 = never. */
  resyncedAt = 0;

  constructor(readonly stream: string, readonly index: number, readonly log: PartitionStore, private readonly logAppendTime: () => boolean) {
    this.next = log.nextOffset;
    this.watermark = log.nextOffset;
    this.rememberRecent();
  }

  /**
   * Takes the log's state as other nodes left it (this node just became the leader): log end,
   * high watermark and idempotent-producer sequences, so offsets stay dense and retries of
   * batches the old leader stored are recognised.
   */
  async resync(): Promise<void> {
    await this.log.refresh?.();
    this.resyncedAt = Date.now();
    this.next = this.log.nextOffset;
    this.watermark = this.log.nextOffset;
    this.refused = false;
    this.producers.clear();
    this.rememberRecent();
    this.wake();
  }

  private rememberRecent(): void {
    for (const b of this.log.recentBatches()) {
      if (b.producerId >= 0n) this.remember(b.producerId, b.producerEpoch, b.baseSequence, b.lastOffset - b.baseOffset, b.baseOffset);
    }
  }

  get logStartOffset(): number {
    return this.log.logStartOffset;
  }

  /** Offset after the last stored record (Kafka high watermark). */
  get highWatermark(): number {
    return this.watermark;
  }

  get sizeBytes(): number {
    return this.log.sizeBytes;
  }

  /**
   * Appends one record batch v2 (validated here: framing, magic, CRC-32C). The batch buffer is
   * modified in place (base offset, log-append time) and must not be reused by the caller.
   */
  append(batch: Buffer): AppendResult {
    let header;
    try {
      header = validateBatch(batch);
    } catch (err) {
      const e = err as Error & { reason?: string };
      throw new AppendError(e.message, e.reason === 'unsupported' ? 'unsupported' : 'corrupt');
    }
    const count = header.lastOffsetDelta + 1;
    if (header.producerId >= 0n) {
      const dup = this.checkSequence(header.producerId, header.producerEpoch, header.baseSequence, count);
      if (dup !== null) return { baseOffset: dup, logAppendTime: -1, duplicate: true, stored: RESOLVED };
    }
    if (this.refused && this.inFlight === 0) {
      // Producer state needs no rebuilding: every refused batch was forgotten as it was refused.
      this.refused = false;
      this.next = this.log.nextOffset;
    }
    const baseOffset = this.next;
    this.next += count;
    setBaseOffset(batch, baseOffset);
    let logAppendTime = -1;
    if (this.logAppendTime()) {
      logAppendTime = Date.now();
      setLogAppendTime(batch, logAppendTime);
    }
    if (header.producerId >= 0n) this.remember(header.producerId, header.producerEpoch, header.baseSequence, count - 1, baseOffset);
    const lastOffset = baseOffset + count - 1;
    this.inFlight++;
    const stored = this.log.append(batch, {
      baseOffset, lastOffset, maxTimestamp: logAppendTime >= 0 ? logAppendTime : header.maxTimestamp,
      producerId: header.producerId, producerEpoch: header.producerEpoch, baseSequence: header.baseSequence,
    }).then(() => {
      this.inFlight--;
      if (lastOffset + 1 > this.watermark) this.watermark = lastOffset + 1;
      this.wake();
    }, (err: unknown) => {
      this.inFlight--;
      this.refused = true;
      // Not stored: a retry of this batch must be appended again, never answered as a duplicate.
      if (header.producerId >= 0n) this.forgetBatch(header.producerId, header.baseSequence);
      throw err;
    });
    return { baseOffset, logAppendTime, duplicate: false, stored };
  }

  /** Whole batches from the one holding `offset`, up to the high watermark. */
  async read(offset: number, maxBytes: number): Promise<Buffer[]> {
    if (offset >= this.watermark) return [];
    const batches = await this.log.read(offset, maxBytes);
    // Batches written but not yet acknowledged by the store stay invisible.
    const out: Buffer[] = [];
    for (const b of batches) {
      if (Number(b.readBigInt64BE(0)) >= this.watermark) break;
      out.push(b);
    }
    return out;
  }

  offsetForTimestamp(timestamp: number): Promise<number | null> {
    return this.log.offsetForTimestamp(timestamp);
  }

  /** Resolves when data past `offset` is stored, or after `timeoutMs`. */
  waitForData(offset: number, timeoutMs: number): Promise<void> {
    if (offset < this.watermark || timeoutMs <= 0) return RESOLVED;
    return new Promise((resolve) => {
      const waiter = { offset, wake: () => { clearTimeout(timer); resolve(); } };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        resolve();
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** Wakes every waiter (shutdown, deletion). */
  wakeAll(): void {
    for (const w of this.waiters.splice(0)) w.wake();
  }

  applyRetention(policy: RetentionPolicy, now: number): Promise<void> {
    return this.log.applyRetention(policy, now);
  }

  private wake(): void {
    if (this.waiters.length === 0) return;
    const still: typeof this.waiters = [];
    for (const w of this.waiters) (w.offset < this.watermark ? w.wake() : still.push(w));
    this.waiters = still;
  }

  /** Returns the base offset of a duplicate batch, null for a new in-order batch; throws otherwise. */
  private checkSequence(pid: bigint, epoch: number, baseSeq: number, count: number): number | null {
    const state = this.producers.get(pid);
    if (!state) return null; // unknown producer (new, or its state aged out): accept
    if (epoch < state.epoch) throw new AppendError(`producer ${pid} epoch ${epoch} is fenced by epoch ${state.epoch}`, 'producer-fenced');
    if (epoch > state.epoch) {
      if (baseSeq !== 0) throw new AppendError(`producer ${pid} new epoch ${epoch} must start at sequence 0`, 'out-of-order-sequence');
      return null;
    }
    const lastSeq = (baseSeq + count - 1) % 2 ** 31;
    for (const b of state.batches) if (b.firstSeq === baseSeq && b.lastSeq === lastSeq) return b.baseOffset;
    const last = state.batches[state.batches.length - 1];
    const expected = last ? (last.lastSeq + 1) % 2 ** 31 : 0;
    if (baseSeq !== expected) {
      throw new AppendError(`producer ${pid} sent sequence ${baseSeq}, expected ${expected}`, 'out-of-order-sequence');
    }
    return null;
  }

  private forgetBatch(pid: bigint, baseSeq: number): void {
    const state = this.producers.get(pid);
    if (state) state.batches = state.batches.filter((b) => b.firstSeq !== baseSeq);
  }

  private remember(pid: bigint, epoch: number, baseSeq: number, lastDelta: number, baseOffset: number): void {
    let state = this.producers.get(pid);
    if (!state || state.epoch !== epoch) {
      state = { epoch, batches: [] };
      this.producers.set(pid, state);
    }
    state.batches.push({ firstSeq: baseSeq, lastSeq: (baseSeq + lastDelta) % 2 ** 31, baseOffset });
    if (state.batches.length > PRODUCER_BATCHES_KEPT) state.batches.shift();
  }
}
