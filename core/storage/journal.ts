/**
 * The journal: queue messages, acks and namespaced metadata in shared append-only segments
 * (`<dir>/NNNNNNNNNNNNNNNNNNNN.seg`), one checksummed record per `journal()` call, group-committed.
 * 100,000 keys and 10,000 sessions live in the same few segment files; compaction keeps the total
 * proportional to the live data.
 */
import { open, readdir, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { FsyncPolicy, JournalEntry, MessageSummary, PagedMessage, PagedVisitor, RecoveredMessage } from '../store.js';
import {
  decodeGroup, encodeGroup, enqueueBodyAt, entrySize, GROUP_ENTRIES_AT, parseSegmentFileName, RECORD_GROUP, scanRecords, segmentFileName,
} from './journal-format.js';
import {
  readKeyValues, readSnapshot, removeSnapshot, removeSnapshotLeftover, SnapshotAbandoned, writeSnapshot, type SnapshotSegment,
} from './journal-snapshot.js';
import { LiveRecordIndex } from './segment-liveness.js';
import { SNAPSHOT_SUPPORTED } from './snapshot-codec.js';
import { SnapshotSchedule } from './snapshot-schedule.js';
import { makeDirectory, PendingBytes, SegmentWriter, StorageLogger, StoreClosedError, SyncScheduler } from './segment-writer.js';
import type { RecoverableLog, StorageRecovery } from './storage-recovery.js';

export interface JournalOptions {
  segmentBytes: number;
  /** Beyond this many segments the oldest is compacted even when mostly live (if the journal as a whole is mostly dead). */
  maxSegments: number;
  policy: FsyncPolicy;
  scheduler: SyncScheduler;
  pending: PendingBytes;
  logger: StorageLogger;
  /** Brings the journal back after a write error; without it the journal stays offline until reopened. */
  recovery?: StorageRecovery;
  /** Bytes journaled between index snapshots taken while running (snapshot-schedule.ts); 0 = only at clean close. Default 64 MiB. */
  snapshotEveryBytes?: number;
}

export const DEFAULT_SNAPSHOT_EVERY_BYTES = 64 * 1024 * 1024;

export interface JournalRecovery {
  metadata: Map<string, Map<string, Buffer>>;
  messages: RecoveredMessage[];
  /** With a `summarize` function: live messages without their bodies, in seq order (`messages` is then empty). */
  paged?: Iterable<PagedMessage>;
  /** The same, faster (StoreRecovery.eachPaged). */
  eachPaged?: (fn: PagedVisitor) => void;
  /** How the index was rebuilt: from the snapshot plus the journal written after it, or by scanning every segment. */
  recoveredFrom: 'snapshot' | 'scan';
}

/** What open() collects while it replays the segments. */
interface Replay {
  metadata: Map<string, Map<string, Buffer>>;
  /** Bodies of live messages: only when the journal is opened without `summarize` (nothing pages). */
  bodies: Map<number, Buffer> | null;
}

/** Where a scan starts: the index a snapshot gave and how much of each segment it covers. */
interface ScanStart {
  live: LiveRecordIndex;
  covered: Map<number, number>;
}

interface JournalSegment {
  id: number;
  path: string;
  /** Bytes in the file, counting appends still queued. */
  size: number;
  /** Only the head segment has a writer. */
  writer: SegmentWriter | null;
  /** The segment's writer until its seal succeeded: after a write error, recovery cuts the file to what it acknowledged. */
  appender: SegmentWriter | null;
  /** Resolves once the segment is written, synced and closed. */
  sealed: Promise<void>;
  /** Read-only descriptor for readMessages (paged queues), opened at the first read. */
  reader: Promise<FileHandle> | null;
  /** readMessages calls using this segment now: compaction deletes it only once none is left. */
  reads: number;
  readsDone: Array<() => void>;
}

/** Reads of neighbouring messages closer than this are merged into one (a queue's messages sit mostly in a row). */
const READ_GAP_BYTES = 16 * 1024;
/** Largest merged read. */
const READ_SPAN_BYTES = 1024 * 1024;

/** Compaction copies are written in groups of about this size (each copy entry is idempotent, so groups need not be atomic together). */
const COPY_GROUP_BYTES = 1024 * 1024;
const RESOLVED = Promise.resolve();

export class Journal implements RecoverableLog {
  readonly label = 'journal';
  private readonly segments: JournalSegment[] = [];
  /** The segment compaction is deleting: out of `segments`, still on disk. */
  private deleting: JournalSegment | null = null;
  private live = new LiveRecordIndex();
  private compaction: Promise<void> | null = null;
  /** A compaction was asked for while one ran. */
  private compactAgain = false;
  private recovering: Promise<void> | null = null;
  private failure: Error | null = null;
  private closing = false;
  /** Set by open(): queued messages keep summaries in the index, and clean close writes a snapshot of it. */
  private summarize?: (message: Buffer) => MessageSummary;
  private schedule = new SnapshotSchedule(0, false);
  /** The index snapshot being written (at most one). */
  private snapshotting: Promise<void> | null = null;
  private snapshotSoon: NodeJS.Immediate | null = null;
  /** Write failures so far: a snapshot captured before one is not committed. */
  private failures = 0;
  /** Index snapshots written since open, periodic and at close (metrics, tests). */
  snapshotsWritten = 0;

  constructor(private readonly dir: string, private readonly o: JournalOptions) {}

  private get head(): JournalSegment {
    return this.segments[this.segments.length - 1];
  }

  /** Segment ids on disk, oldest first (for tests and the admin API). */
  get segmentIds(): number[] {
    return this.segments.map((s) => s.id);
  }

  /**
   * Rebuilds the index: from the snapshot a clean close wrote plus the records written after it
   * when it is valid (journal-snapshot.ts), else by replaying every segment. With `summarize`,
   * queued messages come back without their bodies (a summary each, kept in the index): memory
   * then grows with the number of messages, not their bytes, and readMessages() reads a body back
   * when it is needed. Without it (a store that does not page) bodies are recovered and no
   * snapshot is used.
   */
  async open(summarize?: (message: Buffer) => MessageSummary): Promise<JournalRecovery> {
    await makeDirectory(this.dir, this.o.policy);
    this.summarize = summarize;
    await removeSnapshotLeftover(this.dir);
    const into: Replay = { metadata: new Map(), bodies: summarize ? null : new Map() };
    let start: ScanStart | undefined;
    const snap = summarize ? await readSnapshot(this.dir, await this.segmentIdsOnDisk(), summarize) : null;
    if (summarize) {
      if (snap && 'problem' in snap) {
        this.o.logger.warn({ problem: snap.problem }, 'journal: index snapshot not usable; scanning every segment');
        await removeSnapshot(this.dir);
      } else if (snap) {
        into.metadata = snap.metadata;
        start = { live: snap.live, covered: new Map(snap.segments.map((s) => [s.id, s.size])) };
      }
    }
    let { segments, live, scanned } = await this.scan(into, start);
    if (snap && !('problem' in snap)) {
      // Segments compacted away since the snapshot: the journal after it must have moved or removed all they held.
      const left = snap.gone.filter((id) => live.liveIn(id) !== 0);
      if (left.length > 0) {
        this.o.logger.warn({ segments: left }, 'journal: index snapshot not usable (live records in deleted segments); scanning every segment');
        await removeSnapshot(this.dir);
        into.metadata = new Map();
        start = undefined;
        ({ segments, live, scanned } = await this.scan(into));
      } else for (const id of snap.gone) live.forgetSegment(id);
    }
    this.schedule = new SnapshotSchedule(this.o.snapshotEveryBytes ?? DEFAULT_SNAPSHOT_EVERY_BYTES, summarize !== undefined && SNAPSHOT_SUPPORTED);
    this.schedule.opened(scanned, start && snap && !('problem' in snap) ? { bytes: snap.bytes, head: snap.segments[snap.segments.length - 1].id } : undefined);
    this.segments.push(...segments);
    this.live = live;
    this.head.writer = this.openWriter(this.head);
    const { metadata, bodies } = into;
    for (const [ns, m] of metadata) if (m.size === 0) metadata.delete(ns);
    const recoveredFrom = start ? 'snapshot' : 'scan';
    this.scheduleCompaction();
    // A start that scanned much (no usable snapshot, or a long tail after it) takes one soon, so the next crash does not scan it again.
    this.maybeSnapshot();
    if (bodies) {
      const messages = inSeqOrder(bodies).map((seq) => {
        const m: RecoveredMessage = { seq, queues: this.live.messageQueues(seq)!, message: bodies.get(seq)! };
        const deliveryCounts = this.live.deliveryCounts(seq);
        return deliveryCounts ? { ...m, deliveryCounts } : m;
      });
      return { metadata, messages, recoveredFrom };
    }
    const index = this.live;
    const paged = {
      *[Symbol.iterator](): Generator<PagedMessage> {
        for (const m of index.liveMessages()) {
          const deliveryCounts = index.deliveryCounts(m.seq);
          const p: PagedMessage = { seq: m.seq, queues: m.queues, summary: m.summary };
          if (deliveryCounts) p.deliveryCounts = deliveryCounts;
          yield p;
        }
      },
    };
    return { metadata, messages: [], paged, eachPaged: (fn) => index.eachMessage(fn), recoveredFrom };
  }

  private async segmentIdsOnDisk(): Promise<number[]> {
    return (await readdir(this.dir)).map(parseSegmentFileName).filter((id): id is number => id !== null).sort((a, b) => a - b);
  }

  /** Live queued messages (the journal's own index of them). */
  get messageCount(): number {
    return this.live.messageCount;
  }

  /** Bytes of the live records (queued messages, current metadata values): what compaction keeps. */
  get liveBytes(): number {
    return this.live.liveBytes;
  }

  /** Bytes of every segment file, counting appends still queued. */
  get sizeBytes(): number {
    let n = 0;
    for (const s of this.segments) n += s.size;
    return n;
  }

  /**
   * Reads queued messages' bodies back (paged queues). Each is looked up in the live index at the
   * call, so a compaction that moved it is followed; the segments read are pinned until the
   * reads end, and compaction deletes a segment only once nothing reads it. The bytes were
   * checked against their record's CRC when written by this process or scanned at open. Returned
   * buffers are views of a shared read buffer (decode copies what it keeps).
   */
  async readMessages(seqs: number[]): Promise<Array<Buffer | undefined>> {
    if (this.closing) throw new StoreClosedError();
    const out: Array<Buffer | undefined> = new Array(seqs.length).fill(undefined);
    const bySegment = new Map<JournalSegment, Array<{ i: number; at: number; len: number }>>();
    for (let i = 0; i < seqs.length; i++) {
      const loc = this.live.bodyLocation(seqs[i]);
      if (!loc || loc.at < 0) continue;
      const seg = this.segments.find((s) => s.id === loc.seg);
      if (!seg) continue;
      let list = bySegment.get(seg);
      if (!list) {
        bySegment.set(seg, (list = []));
        seg.reads++; // pinned before the first await: compaction cannot delete it under this read
      }
      list.push({ i, at: loc.at, len: loc.len });
    }
    const pinned = [...bySegment.keys()];
    try {
      for (const [seg, list] of bySegment) {
        list.sort((a, b) => a.at - b.at);
        const end = list.reduce((m, w) => Math.max(m, w.at + w.len), 0);
        // A group accepted (or a compaction copy) may still be queued for writing.
        if (seg.appender && seg.appender.written < end) await seg.appender.drain();
        // A failed open is not kept: the next read tries again.
        const fh = await (seg.reader ??= open(seg.path, 'r').catch((err: unknown) => {
          seg.reader = null;
          throw err;
        }));
        for (let k = 0; k < list.length;) {
          const start = list[k].at;
          let stop = start + list[k].len;
          let n = k + 1;
          while (n < list.length && list[n].at - stop <= READ_GAP_BYTES && list[n].at + list[n].len - start <= READ_SPAN_BYTES) {
            stop = Math.max(stop, list[n].at + list[n].len);
            n++;
          }
          const buf = Buffer.allocUnsafe(stop - start);
          let got = 0;
          while (got < buf.length) {
            const { bytesRead } = await fh.read(buf, got, buf.length - got, start + got);
            if (bytesRead <= 0) throw new Error(`journal: segment ${seg.path} ends before ${stop} (reading a queued message)`);
            got += bytesRead;
          }
          for (; k < n; k++) out[list[k].i] = buf.subarray(list[k].at - start, list[k].at - start + list[k].len);
        }
      }
    } finally {
      for (const seg of pinned) if (--seg.reads === 0) for (const wake of seg.readsDone.splice(0)) wake();
    }
    return out;
  }

  /** Waits for the segment's reads to end, then closes its read descriptor. */
  private async closeReader(seg: JournalSegment): Promise<void> {
    while (seg.reads > 0) await new Promise<void>((resolve) => seg.readsDone.push(resolve));
    const reader = seg.reader;
    seg.reader = null;
    if (reader) await (await reader.catch(() => null))?.close().catch(() => undefined);
  }

  /**
   * After a write error, once the disk takes writes again (storage-recovery.ts): cuts every segment
   * still being written to what it acknowledged, rebuilds the index of live records from the
   * segments (memory had already counted the refused groups), and opens a new writer at the end.
   * Throws, leaving the journal offline, if the disk still refuses.
   */
  recover(): Promise<void> {
    if (this.closing || !this.failure) return RESOLVED;
    this.recovering ??= (async () => {
      await this.compaction;
      const writers = this.segments.map((s) => s.appender).filter((w): w is SegmentWriter => w !== null);
      for (const w of writers) await w.cutToAcked();
      const { segments, live } = await this.scan({ metadata: new Map(), bodies: null }, undefined, false);
      if (this.closing) return;
      await Promise.all(writers.map((w) => w.abandon()));
      const old = this.segments.splice(0, this.segments.length, ...segments);
      for (const seg of old) void this.closeReader(seg);
      this.live = live;
      this.head.writer = this.openWriter(this.head);
      this.failure = null;
      this.scheduleCompaction();
    })().finally(() => {
      this.recovering = null;
    });
    return this.recovering;
  }

  /**
   * Reads the segments into the live-record index (from `start`'s snapshot on: only what it does
   * not cover), replaying metadata and (without paging) bodies into `into`; `replayInto` false
   * builds the index only. A torn or corrupt tail of the last segment is cut.
   */
  private async scan(into: Replay, start?: ScanStart, replayInto = true): Promise<{ segments: JournalSegment[]; live: LiveRecordIndex; scanned: number }> {
    const live = start?.live ?? new LiveRecordIndex(this.summarize);
    const segments: JournalSegment[] = [];
    let scanned = 0;
    const ids = await this.segmentIdsOnDisk();
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      const last = i === ids.length - 1;
      const path = join(this.dir, segmentFileName(id));
      const from = start?.covered.get(id) ?? 0;
      const fh = await open(path, last ? 'r+' : 'r');
      try {
        let { size } = await fh.stat();
        if (from >= size) {
          segments.push(newSegment(id, path, size));
          continue;
        }
        scanned += size - from;
        const scan = await scanRecords(fh, size, (pos, type, body) => {
          if (type !== RECORD_GROUP) throw new RangeError(`unknown record type ${type}`);
          // Decoded whole before any entry applies: a group is recovered entirely or not at all.
          let at = pos + GROUP_ENTRIES_AT;
          for (const e of decodeGroup(body)) {
            const size = entrySize(e);
            const change = live.apply(e, size, id, pos, e.kind === 'enqueue' ? at + enqueueBodyAt(e) : -1);
            at += size;
            if (replayInto) replay(e, change, into);
          }
        }, from);
        if (scan.problem && last) {
          this.o.logger.warn({ segment: path, at: scan.end, dropped: size - scan.end, problem: scan.problem }, 'journal: truncating torn or corrupt tail');
          await fh.truncate(scan.end);
          await fh.datasync();
          size = scan.end;
        } else if (scan.problem) {
          this.o.logger.warn({ segment: path, at: scan.end, problem: scan.problem }, 'journal: corrupt record in an older segment; rest of that segment skipped');
        }
        segments.push(newSegment(id, path, size));
      } finally {
        await fh.close();
      }
    }
    if (segments.length === 0) segments.push(newSegment(0, join(this.dir, segmentFileName(0)), 0));
    return { segments, live, scanned };
  }

  /** Writes the entries as one atomic record; resolves per the fsync policy. */
  append(entries: JournalEntry[]): Promise<void> {
    if (this.closing) return Promise.reject(new StoreClosedError());
    if (this.failure) return Promise.reject(this.failure);
    if (!this.head?.writer) return Promise.reject(new Error('store is not open'));
    let group;
    try {
      group = encodeGroup(entries);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.write(entries, group.record, group.sizes);
  }

  /** Everything written so far reaches the disk. */
  async flush(): Promise<void> {
    if (this.failure) throw this.failure;
    await Promise.all(this.segments.map((s) => (s.writer ? s.writer.flush() : s.sealed)));
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    if (this.snapshotSoon) clearImmediate(this.snapshotSoon);
    this.snapshotSoon = null;
    await this.recovering?.catch(() => undefined);
    await this.snapshotting; // a periodic one in flight gives up at its next step
    await this.compaction;
    const results = await Promise.allSettled(this.segments.map((s) => (s.writer ? s.writer.seal() : s.sealed)));
    await Promise.all(this.segments.map((s) => this.closeReader(s)));
    if (this.failure) await Promise.all(this.segments.map((s) => s.appender?.abandon()));
    this.o.recovery?.forget(this);
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    // Everything is written: the index now is exactly what replaying the segments gives.
    if (this.summarize && !this.failure) await this.writeSnapshot();
  }

  /** Writes the index snapshot a clean close leaves (journal-snapshot.ts); a failure only costs the next open a longer scan. */
  private async writeSnapshot(): Promise<void> {
    await this.snapshot(false);
  }

  /** Starts a periodic snapshot in a turn of its own (not inside a caller's write) unless one is in flight. */
  private maybeSnapshot(): void {
    if (this.snapshotting || this.snapshotSoon || this.closing || this.failure || !this.schedule.due) return;
    this.snapshotSoon = setImmediate(() => {
      this.snapshotSoon = null;
      if (this.snapshotting || this.closing || this.failure || !this.schedule.due) return;
      this.snapshotting = this.snapshot(true).finally(() => {
        this.snapshotting = null;
        this.maybeSnapshot();
      });
    });
  }

  /**
   * Takes an index snapshot (journal-snapshot.ts). This synchronous step captures the index
   * (copy-on-write for the message table: segment-liveness.ts capture) with every segment and
   * its size, counting groups accepted and not yet written: state and sizes describe the same
   * point of the journal, since write() updates both in one step. Then, in the background: the
   * bytes it describes are made durable (a snapshot never describes bytes a crash could lose),
   * the values of metadata keys are read, and the snapshot is encoded and written. Its segments
   * stay pinned meanwhile, as readMessages pins them: compaction deletes none of them before it
   * is written. A periodic one gives up when the journal closes; none is committed after a write
   * failure since its capture (the index then counted groups that were refused and cut).
   */
  private async snapshot(periodic: boolean): Promise<void> {
    const live = this.live;
    const capture = live.capture();
    const segs = this.deleting ? [this.deleting, ...this.segments] : [...this.segments];
    const covered: SnapshotSegment[] = segs.map((s) => ({ id: s.id, size: s.size }));
    // Only the bytes it describes: a steady flood of appends never lets the head's writer drain.
    const durable = Promise.all(segs.map((s) => (s.writer ? s.writer.flushTo(s.size) : s.sealed)));
    for (const s of segs) s.reads++;
    const failures = this.failures;
    this.schedule.captured();
    try {
      await durable;
      const values = await readKeyValues(capture.keys, (id) => segs.find((s) => s.id === id)?.path);
      const bytes = await writeSnapshot(this.dir, covered, capture, (ns, key) => values.get(ns)!.get(key)!, {
        abandon: () => periodic && this.closing,
        commit: () => this.failures === failures,
      });
      this.schedule.taken(bytes, covered[covered.length - 1].id);
      this.snapshotsWritten++;
    } catch (err) {
      this.schedule.failed();
      if (!(err instanceof SnapshotAbandoned) && this.failures === failures) {
        this.o.logger.warn({ err }, periodic
          ? 'journal: writing a periodic index snapshot failed; the previous one stays'
          : 'journal: writing the index snapshot failed; the next start scans the journal after the previous one');
      }
    } finally {
      live.release(capture);
      for (const s of segs) if (--s.reads === 0) for (const wake of s.readsDone.splice(0)) wake();
    }
  }

  /**
   * Memory state is updated when a group is accepted, in the order groups are written: a compaction
   * copy built from it is then exactly what replaying the log up to that point gives.
   */
  private write(entries: JournalEntry[], record: Buffer, sizes: number[]): Promise<void> {
    let head = this.head;
    if (head.size > 0 && head.size + record.length > this.o.segmentBytes) head = this.roll();
    const pos = head.size;
    head.size += record.length;
    let at = pos + GROUP_ENTRIES_AT;
    let removes = false;
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i];
      this.live.apply(e, sizes[i], head.id, pos, e.kind === 'enqueue' ? at + enqueueBodyAt(e) : -1);
      at += sizes[i];
      if (e.kind === 'ack' || e.kind === 'del') removes = true;
    }
    const stored = head.writer!.append(record);
    if (this.schedule.journaled(record.length)) this.maybeSnapshot();
    // A drained queue frees its space without waiting for the next roll: the oldest segment is
    // deleted once nothing in it is live (a deep queue's consumers catching up, a full disk cap).
    if (removes && this.segments.length > 1 && this.live.liveIn(this.segments[0].id) === 0) this.scheduleCompaction();
    return stored;
  }

  private openWriter(seg: JournalSegment, after?: Promise<void>): SegmentWriter {
    const writer = SegmentWriter.open(seg.path, seg.size, {
      policy: this.o.policy, scheduler: this.o.scheduler, pending: this.o.pending, after,
      syncOnSeal: true, syncDir: this.dir, onFailure: (err) => this.fail(err),
    });
    seg.appender = writer;
    return writer;
  }

  private roll(): JournalSegment {
    const old = this.head;
    old.sealed = old.writer!.seal().then(() => {
      old.appender = null;
    });
    old.sealed.catch(() => undefined); // reported through onFailure
    old.writer = null;
    const id = old.id + 1;
    const seg = newSegment(id, join(this.dir, segmentFileName(id)), 0);
    seg.writer = this.openWriter(seg, old.sealed);
    this.segments.push(seg);
    this.scheduleCompaction();
    return seg;
  }

  private fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    this.failures++;
    if (this.o.recovery) this.o.recovery.offline(this, err);
    else this.o.logger.warn({ err }, 'journal is offline after a write failure; reopen to recover from disk');
  }

  private worthCompacting(): boolean {
    if (this.segments.length < 2) return false;
    const oldest = this.segments[0];
    if (this.live.liveIn(oldest.id) < oldest.size / 2) return true;
    const total = this.segments.reduce((sum, s) => sum + s.size, 0);
    return this.segments.length > this.o.maxSegments && this.live.liveBytes < total / 2;
  }

  private scheduleCompaction(): void {
    if (this.closing || this.failure) return;
    if (this.compaction) {
      // One is running (or just decided there was nothing to do, in this same tick): look again after it.
      this.compactAgain = true;
      return;
    }
    this.compactAgain = false;
    this.compaction = (async () => {
      while (!this.closing && !this.failure && this.worthCompacting()) {
        if (!(await this.compactOldest())) break;
      }
    })().catch((err) => {
      // A write error is logged once by the recovery; compaction resumes after it.
      if (!this.failure) this.o.logger.warn({ err }, 'journal compaction failed');
    }).finally(() => {
      this.compaction = null;
      if (this.compactAgain) this.scheduleCompaction();
    });
  }

  /**
   * Copies the oldest segment's live records into the head, makes the copies durable, then deletes
   * the segment. Returns false if the segment must stay.
   *
   * Why oldest-first is safe: a tombstone (del, ack) only ever cancels records in its own or an
   * older segment. Compacting the oldest segment drops its tombstones, but everything they could
   * cancel is in that same segment (whose cancelled records are not copied) or already deleted.
   * Compacting a newer segment first would drop an ack while the enqueue it cancels still sits in
   * an older segment, and replay would resurrect the message. Copies are plain groups written after
   * everything accepted before them, so a crash after the copy and before the delete replays the
   * original, then the later tombstones, then the copy (a put of the current value, an enqueue that
   * replaces the queue list with the remaining queues): the same state either way.
   */
  private async compactOldest(): Promise<boolean> {
    const seg = this.segments[0];
    await seg.sealed;
    const copies: Promise<void>[] = [];
    let puts = new Map<string, Map<string, { value: Buffer; pos: number }>>();
    let enqueues = new Map<number, { message: Buffer; at: number }>();
    let candidateBytes = 0;
    const copyLiveCandidates = (): void => {
      // Liveness is checked in the same synchronous step that queues the copy: no group can slip in between.
      const entries: JournalEntry[] = [];
      for (const [ns, keys] of puts) {
        for (const [key, c] of keys) if (this.live.isCurrentPut(ns, key, seg.id, c.pos)) entries.push({ kind: 'put', ns, key, value: c.value });
      }
      for (const [seq, c] of enqueues) {
        const queues = this.live.currentQueues(seq, seg.id, c.at);
        if (!queues) continue;
        entries.push({ kind: 'enqueue', seq, queues, message: c.message });
        // The copy resets the message's state: its delivery counts follow it in the same group.
        const counts = this.live.deliveryCounts(seq);
        if (counts) for (let i = 0; i < queues.length; i++) if (counts[i] > 0) entries.push({ kind: 'deliver', seq, queue: queues[i], count: counts[i] });
      }
      puts = new Map();
      enqueues = new Map();
      candidateBytes = 0;
      if (entries.length === 0) return;
      const group = encodeGroup(entries);
      copies.push(this.write(entries, group.record, group.sizes));
    };
    const fh = await open(seg.path, 'r');
    try {
      await scanRecords(fh, seg.size, (pos, type, body) => {
        if (this.closing || this.failure) throw new Error('journal closing');
        if (type !== RECORD_GROUP) return;
        let at = pos + GROUP_ENTRIES_AT;
        for (const e of decodeGroup(body)) {
          const entryAt = at;
          at += entrySize(e);
          if (e.kind === 'put') {
            let keys = puts.get(e.ns);
            if (!keys) puts.set(e.ns, (keys = new Map()));
            keys.set(e.key, { value: e.value, pos }); // a later put of the key in this segment supersedes
            candidateBytes += e.value.length;
          } else if (e.kind === 'enqueue') {
            enqueues.set(e.seq, { message: e.message, at: entryAt + enqueueBodyAt(e) });
            candidateBytes += e.message.length;
          }
        }
        if (candidateBytes >= COPY_GROUP_BYTES) copyLiveCandidates();
      });
    } finally {
      await fh.close();
    }
    if (this.closing || this.failure) return false;
    copyLiveCandidates();
    await Promise.all(copies);
    // The original goes only once every copy is on disk, whatever the fsync policy.
    await Promise.all(this.segments.map((s) => (s.writer ? s.writer.flush() : s.sealed)));
    if (this.live.liveIn(seg.id) !== 0) {
      this.o.logger.warn({ segment: seg.path, live: this.live.liveIn(seg.id) }, 'journal: live records left after compaction; segment kept');
      return false;
    }
    this.segments.shift();
    this.live.forgetSegment(seg.id);
    // A paged queue may still be reading a message from its old place (it looked it up before the
    // copy), or a snapshot captured meanwhile names and pins it (the file is on disk until unlinked).
    this.deleting = seg;
    await this.closeReader(seg);
    this.deleting = null;
    await unlink(seg.path);
    // The newest snapshot named it as its head: it can no longer be used; take another.
    this.schedule.segmentDeleted(seg.id);
    this.maybeSnapshot();
    this.o.logger.info({ segment: seg.path, bytes: seg.size, copies: copies.length }, 'journal: compacted segment');
    return true;
  }
}

/** The map's keys in ascending order: they usually are already (messages are journaled in seq order), so check before sorting. */
function inSeqOrder(map: Map<number, unknown>): number[] {
  const keys = [...map.keys()];
  for (let i = 1; i < keys.length; i++) if (keys[i - 1] > keys[i]) return keys.sort((a, b) => a - b);
  return keys;
}

function newSegment(id: number, path: string, size: number): JournalSegment {
  return { id, path, size, writer: null, appender: null, sealed: RESOLVED, reader: null, reads: 0, readsDone: [] };
}

/** Applies one recovered entry to the state open() returns; `change` is what the live index said of it. */
function replay(e: JournalEntry, change: 'gone' | 'moved' | undefined, { metadata, bodies }: Replay): void {
  switch (e.kind) {
    case 'put': {
      let ns = metadata.get(e.ns);
      if (!ns) metadata.set(e.ns, (ns = new Map()));
      ns.set(e.key, Buffer.from(e.value)); // copy: the read chunk is not kept alive
      break;
    }
    case 'del': metadata.get(e.ns)?.delete(e.key); break;
    case 'enqueue':
      if (!bodies || change === 'moved') break; // paged: the index has it; a copy: the same bytes are already recovered
      if (change === 'gone') bodies.delete(e.seq);
      else bodies.set(e.seq, Buffer.from(e.message)); // copy: the read chunk is not kept alive
      break;
    case 'ack': if (change === 'gone') bodies?.delete(e.seq); break;
  }
}
