/**
 * The journal: queue messages, acks and namespaced metadata in shared append-only segments
 * (`<dir>/NNNNNNNNNNNNNNNNNNNN.seg`), one checksummed record per `journal()` call, group-committed.
 * 100,000 keys and 10,000 sessions live in the same few segment files; compaction keeps the total
 * proportional to the live data.
 */
import { open, readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { FsyncPolicy, JournalEntry, RecoveredMessage } from '../store.js';
import { decodeGroup, encodeGroup, entrySize, parseSegmentFileName, RECORD_GROUP, scanRecords, segmentFileName } from './journal-format.js';
import { LiveRecordIndex } from './segment-liveness.js';
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
}

export interface JournalRecovery {
  metadata: Map<string, Map<string, Buffer>>;
  messages: RecoveredMessage[];
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
}

/** Compaction copies are written in groups of about this size (each copy entry is idempotent, so groups need not be atomic together). */
const COPY_GROUP_BYTES = 1024 * 1024;
const RESOLVED = Promise.resolve();

export class Journal implements RecoverableLog {
  readonly label = 'journal';
  private readonly segments: JournalSegment[] = [];
  private live = new LiveRecordIndex();
  private compaction: Promise<void> | null = null;
  private recovering: Promise<void> | null = null;
  private failure: Error | null = null;
  private closing = false;

  constructor(private readonly dir: string, private readonly o: JournalOptions) {}

  private get head(): JournalSegment {
    return this.segments[this.segments.length - 1];
  }

  /** Segment ids on disk, oldest first (for tests and the admin API). */
  get segmentIds(): number[] {
    return this.segments.map((s) => s.id);
  }

  async open(): Promise<JournalRecovery> {
    await makeDirectory(this.dir, this.o.policy);
    const metadata = new Map<string, Map<string, Buffer>>();
    const bodies = new Map<number, Buffer>();
    const { segments, live } = await this.scan({ metadata, bodies });
    this.segments.push(...segments);
    this.live = live;
    this.head.writer = this.openWriter(this.head);
    for (const [ns, m] of metadata) if (m.size === 0) metadata.delete(ns);
    const messages = [...bodies.keys()].sort((a, b) => a - b)
      .map((seq) => ({ seq, queues: [...this.live.messageQueues(seq)!], message: bodies.get(seq)! }));
    this.scheduleCompaction();
    return { metadata, messages };
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
      const { segments, live } = await this.scan();
      if (this.closing) return;
      await Promise.all(writers.map((w) => w.abandon()));
      this.segments.splice(0, this.segments.length, ...segments);
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
   * Reads every segment: the live-record index, and with `into` the recovered metadata and message
   * bodies. A torn or corrupt tail of the last segment is cut.
   */
  private async scan(into?: { metadata: Map<string, Map<string, Buffer>>; bodies: Map<number, Buffer> }): Promise<{ segments: JournalSegment[]; live: LiveRecordIndex }> {
    const live = new LiveRecordIndex();
    const segments: JournalSegment[] = [];
    const ids = (await readdir(this.dir)).map(parseSegmentFileName).filter((id): id is number => id !== null).sort((a, b) => a - b);
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      const last = i === ids.length - 1;
      const path = join(this.dir, segmentFileName(id));
      const fh = await open(path, last ? 'r+' : 'r');
      try {
        let { size } = await fh.stat();
        const scan = await scanRecords(fh, size, (pos, type, body) => {
          if (type !== RECORD_GROUP) throw new RangeError(`unknown record type ${type}`);
          // Decoded whole before any entry applies: a group is recovered entirely or not at all.
          for (const e of decodeGroup(body)) {
            const gone = live.apply(e, entrySize(e), id, pos);
            if (into) replay(e, gone, into.metadata, into.bodies);
          }
        });
        if (scan.problem && last) {
          this.o.logger.warn({ segment: path, at: scan.end, dropped: size - scan.end, problem: scan.problem }, 'journal: truncating torn or corrupt tail');
          await fh.truncate(scan.end);
          await fh.datasync();
          size = scan.end;
        } else if (scan.problem) {
          this.o.logger.warn({ segment: path, at: scan.end, problem: scan.problem }, 'journal: corrupt record in an older segment; rest of that segment skipped');
        }
        segments.push({ id, path, size, writer: null, appender: null, sealed: RESOLVED });
      } finally {
        await fh.close();
      }
    }
    if (segments.length === 0) segments.push({ id: 0, path: join(this.dir, segmentFileName(0)), size: 0, writer: null, appender: null, sealed: RESOLVED });
    return { segments, live };
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
    await this.recovering?.catch(() => undefined);
    await this.compaction;
    const results = await Promise.allSettled(this.segments.map((s) => (s.writer ? s.writer.seal() : s.sealed)));
    if (this.failure) await Promise.all(this.segments.map((s) => s.appender?.abandon()));
    this.o.recovery?.forget(this);
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
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
    for (let i = 0; i < entries.length; i++) this.live.apply(entries[i], sizes[i], head.id, pos);
    return head.writer!.append(record);
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
    const seg: JournalSegment = { id, path: join(this.dir, segmentFileName(id)), size: 0, writer: null, appender: null, sealed: RESOLVED };
    seg.writer = this.openWriter(seg, old.sealed);
    this.segments.push(seg);
    this.scheduleCompaction();
    return seg;
  }

  private fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
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
    if (this.compaction || this.closing || this.failure) return;
    this.compaction = (async () => {
      while (!this.closing && !this.failure && this.worthCompacting()) {
        if (!(await this.compactOldest())) break;
      }
    })().catch((err) => {
      // A write error is logged once by the recovery; compaction resumes after it.
      if (!this.failure) this.o.logger.warn({ err }, 'journal compaction failed');
    }).finally(() => {
      this.compaction = null;
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
    let enqueues = new Map<number, { message: Buffer; pos: number }>();
    let candidateBytes = 0;
    const copyLiveCandidates = (): void => {
      // Liveness is checked in the same synchronous step that queues the copy: no group can slip in between.
      const entries: JournalEntry[] = [];
      for (const [ns, keys] of puts) {
        for (const [key, c] of keys) if (this.live.isCurrentPut(ns, key, seg.id, c.pos)) entries.push({ kind: 'put', ns, key, value: c.value });
      }
      for (const [seq, c] of enqueues) {
        const queues = this.live.currentQueues(seq, seg.id, c.pos);
        if (queues) entries.push({ kind: 'enqueue', seq, queues, message: c.message });
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
        for (const e of decodeGroup(body)) {
          if (e.kind === 'put') {
            let keys = puts.get(e.ns);
            if (!keys) puts.set(e.ns, (keys = new Map()));
            keys.set(e.key, { value: e.value, pos }); // a later put of the key in this segment supersedes
            candidateBytes += e.value.length;
          } else if (e.kind === 'enqueue') {
            enqueues.set(e.seq, { message: e.message, pos });
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
    await unlink(seg.path);
    this.o.logger.info({ segment: seg.path, bytes: seg.size, copies: copies.length }, 'journal: compacted segment');
    return true;
  }
}

/** Applies one recovered entry to the state open() returns; `gone` is what the live index said of it. */
function replay(e: JournalEntry, gone: 'gone' | undefined, metadata: Map<string, Map<string, Buffer>>, bodies: Map<number, Buffer>): void {
  switch (e.kind) {
    case 'put': {
      let ns = metadata.get(e.ns);
      if (!ns) metadata.set(e.ns, (ns = new Map()));
      ns.set(e.key, Buffer.from(e.value)); // copy: the read chunk is not kept alive
      break;
    }
    case 'del': metadata.get(e.ns)?.delete(e.key); break;
    case 'enqueue': if (gone) bodies.delete(e.seq); else bodies.set(e.seq, Buffer.from(e.message)); break;
    case 'ack': if (gone) bodies.delete(e.seq); break;
  }
}
