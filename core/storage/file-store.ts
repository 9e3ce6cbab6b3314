/**
 * The embedded store: everything in one data directory, no other server.
 *
 *   <dir>/journal/NNNNNNNNNNNNNNNNNNNN.seg                       queue messages, acks, metadata (journal.ts)
 *   <dir>/streams/<encodeURIComponent(stream)>/<partition>/       one PartitionLog per partition (partition-log.ts)
 *       <20-digit base offset>.log, .index
 *   <dir>/LOCK                                                    pid of the process using the directory
 *
 * One fsync timer serves the journal and every partition; pendingBytes sums every writer's backlog.
 * One FilePool caps the partition files open at once (maxOpenFiles): descriptors do not grow with
 * partitions; an idle partition holds none.
 *
 * After a write error (a full disk) the journal or partition refuses writes; one StorageRecovery
 * probes the directory every recoveryProbeMs and brings each failed log back once writes work again.
 */
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FsyncPolicy, JournalEntry, OpenOptions, PartitionStore, RetentionPolicy, Store, StoreRecovery } from '../store.js';
import { DiskLimit } from './disk-limit.js';
import { FilePool } from './file-pool.js';
import { Journal } from './journal.js';
import { PartitionLog } from './partition-log.js';
import { PendingBytes, StorageLogger, StoreClosedError, SyncScheduler } from './segment-writer.js';
import { StorageRecovery } from './storage-recovery.js';
import type { LatencyHistogram } from '../latency-histogram.js';

export interface FileStoreOptions {
  dir: string;
  fsync: FsyncPolicy;
  /** Period of the shared fdatasync timer under `interval` (default 1000). */
  fsyncIntervalMs?: number;
  /** Journal segment size (default 64 MiB). */
  journalSegmentBytes?: number;
  logger?: StorageLogger;
  /** Journal segments beyond which a mostly-live oldest segment is still compacted (default 8). */
  journalMaxSegments?: number;
  /** Newest bytes per partition kept in memory for tailing readers (default 256 KiB). */
  tailCacheBytes?: number;
  /** Partition segment files open at once, across all partitions (default 1024); the least recently used idle one is closed. */
  maxOpenFiles?: number;
  /** After a write error, how often to probe whether the data directory takes writes again (default 1000 ms). */
  recoveryProbeMs?: number;
  /** Bytes the journal and partitions may hold; past it new messages are refused (disk-limit.ts). Default: no cap. */
  maxDiskBytes?: number;
  /** Journal bytes between index snapshots taken while running (snapshot-schedule.ts); 0 = only at close. Default 64 MiB. */
  snapshotEveryBytes?: number;
}

export const DEFAULT_MAX_OPEN_FILES = 1024;

const consoleLogger: StorageLogger = {
  info: () => undefined,
  warn: (obj, msg) => console.warn(`junction storage: ${msg ?? ''}`, obj),
};

/** Another live broker holds the data directory: an expected start-up error (one line, no stack). */
export class DataDirInUseError extends Error {
  override readonly name = 'DataDirInUseError';
}

export class FileStore implements Store {
  private readonly pending = new PendingBytes();
  private readonly scheduler: SyncScheduler;
  private readonly files: FilePool;
  private readonly recovery: StorageRecovery;
  private readonly journalLog: Journal;
  private readonly partitions = new Map<string, Promise<PartitionLog>>();
  /** Partitions opened, for the disk cap's sum. */
  private readonly openLogs = new Set<PartitionLog>();
  private readonly diskLimit: DiskLimit | null;
  private readonly logger: StorageLogger;
  private state: 'new' | 'opening' | 'open' | 'closed' = 'new';

  constructor(private readonly options: FileStoreOptions) {
    if (!['always', 'interval', 'never'].includes(options.fsync)) throw new RangeError(`fsync must be always, interval or never, not ${options.fsync}`);
    if (typeof options.dir !== 'string' || options.dir === '') throw new TypeError('FileStore needs a data directory');
    this.logger = options.logger ?? consoleLogger;
    this.scheduler = new SyncScheduler(options.fsyncIntervalMs ?? 1000);
    this.files = new FilePool(options.maxOpenFiles ?? DEFAULT_MAX_OPEN_FILES);
    this.recovery = new StorageRecovery(options.dir, options.recoveryProbeMs ?? 1000, this.logger);
    const max = options.maxDiskBytes;
    if (max !== undefined && !(Number.isSafeInteger(max) && max > 0)) throw new RangeError(`maxDiskBytes must be a positive integer, not ${max}`);
    this.diskLimit = max ? new DiskLimit(max, () => this.usedBytes) : null;
    this.journalLog = new Journal(join(options.dir, 'journal'), {
      segmentBytes: options.journalSegmentBytes ?? 64 * 1024 * 1024,
      maxSegments: options.journalMaxSegments ?? 8,
      policy: options.fsync,
      scheduler: this.scheduler,
      pending: this.pending,
      logger: this.logger,
      recovery: this.recovery,
      snapshotEveryBytes: options.snapshotEveryBytes,
    });
  }

  get pendingBytes(): number {
    return this.pending.value;
  }

  get fsyncSeconds(): LatencyHistogram {
    return this.scheduler.fsyncSeconds;
  }

  /** Partition files open now, and the most open at once (tests, metrics). */
  get openPartitionFiles(): { now: number; peak: number; max: number; opened: number } {
    return { now: this.files.openFiles, peak: this.files.peak, max: this.files.maxOpen, opened: this.files.openCount };
  }

  /** Journal and partition logs refusing writes after a write error, until the probe brings them back (tests, metrics). */
  get offlineLogs(): number {
    return this.recovery.offlineCount;
  }

  /**
   * What maxDiskBytes caps: the journal's live records (queued messages, metadata) and the open
   * partitions' bytes. Journal records already acked are not counted: compaction reclaims them
   * (docs/storage.md says how far the files may run ahead of this figure).
   */
  get usedBytes(): number {
    let n = this.journalLog.liveBytes;
    for (const log of this.openLogs) n += log.sizeBytes;
    return n;
  }

  /** Index snapshots of the journal written since open, periodic and at close (metrics, tests). */
  get indexSnapshots(): number {
    return this.journalLog.snapshotsWritten;
  }

  /** Journal segment ids on disk, oldest first (tests, admin API). */
  get journalSegments(): number[] {
    return this.journalLog.segmentIds;
  }

  async open(options: OpenOptions = {}): Promise<StoreRecovery> {
    if (this.state !== 'new') throw new Error(this.state === 'closed' ? 'store is closed' : 'store is already open');
    this.state = 'opening';
    await mkdir(this.options.dir, { recursive: true });
    await this.lock();
    const { metadata, messages, paged, eachPaged, recoveredFrom } = await this.journalLog.open(options.summarize);
    const streams = await this.findStreams();
    if (this.state === 'opening') this.state = 'open';
    return { metadata, messages, paged, eachPaged, streams, journalIndex: recoveredFrom };
  }

  readMessages(seqs: number[]): Promise<Array<Buffer | undefined>> {
    if (this.state === 'closed') return Promise.reject(new StoreClosedError());
    return this.journalLog.readMessages(seqs);
  }

  journal(entries: JournalEntry[]): Promise<void> {
    if (this.state === 'closed') return Promise.reject(new StoreClosedError());
    if (this.diskLimit) {
      // Only new messages are refused: acks and metadata let consumers drain and free space.
      let bytes = 0;
      for (const e of entries) if (e.kind === 'enqueue') bytes += e.message.length;
      const refused = bytes > 0 ? this.diskLimit.refuse(bytes) : null;
      if (refused) return Promise.reject(refused);
    }
    return this.journalLog.append(entries);
  }

  async openPartition(stream: string, partition: number, policy: RetentionPolicy): Promise<PartitionStore> {
    this.checkOpen();
    if (!Number.isInteger(partition) || partition < 0) throw new RangeError(`partition ${partition} is not a non-negative integer`);
    const key = `${stream}\u0000${partition}`;
    const existing = this.partitions.get(key);
    if (existing) {
      // Also while it is offline after a write error: it recovers in place (its StreamPartition keeps it).
      const log = await existing;
      log.setPolicy(policy);
      return log;
    }
    const dir = join(this.streamDir(stream), String(partition));
    const opening = new PartitionLog(dir, policy, {
      policy: this.options.fsync, scheduler: this.scheduler, pending: this.pending, logger: this.logger,
      tailCacheBytes: this.options.tailCacheBytes ?? 256 * 1024, files: this.files, recovery: this.recovery,
      admit: this.diskLimit ? (bytes) => this.diskLimit!.refuse(bytes) : undefined,
    }).open();
    this.partitions.set(key, opening);
    opening.then((log) => this.openLogs.add(log), () => undefined);
    opening.catch(() => {
      if (this.partitions.get(key) === opening) this.partitions.delete(key);
    });
    return opening;
  }

  async deleteStream(stream: string): Promise<void> {
    this.checkOpen();
    const dir = this.streamDir(stream);
    for (const [key, opening] of [...this.partitions]) {
      if (key.slice(0, key.lastIndexOf('\u0000')) !== stream) continue;
      this.partitions.delete(key);
      const log = await opening.catch(() => null);
      if (log) this.openLogs.delete(log);
      await log?.close().catch(() => undefined);
    }
    await rm(dir, { recursive: true, force: true });
  }

  async flush(): Promise<void> {
    if (this.state === 'closed') throw new StoreClosedError();
    await Promise.all([this.journalLog.flush(), ...[...this.partitions.values()].map(async (p) => (await p).flush())]);
  }

  async close(): Promise<void> {
    if (this.state === 'closed') return;
    const wasOpen = this.state !== 'new';
    this.state = 'closed';
    await this.recovery.close();
    const results = await Promise.allSettled([
      this.journalLog.close(),
      ...[...this.partitions.values()].map(async (p) => (await p).close()),
    ]);
    this.partitions.clear();
    this.openLogs.clear();
    await this.scheduler.close();
    if (wasOpen) await rm(join(this.options.dir, 'LOCK'), { force: true });
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
  }

  private checkOpen(): void {
    if (this.state === 'closed') throw new StoreClosedError();
    if (this.state !== 'open') throw new Error('store is not open');
  }

  private streamDir(stream: string): string {
    if (typeof stream !== 'string' || stream === '') throw new RangeError('stream name must be a non-empty string');
    // A leading dot is encoded too, so `.` and `..` can never name a directory outside streams/.
    return join(this.options.dir, 'streams', encodeURIComponent(stream).replace(/^\./, '%2E'));
  }

  private async findStreams(): Promise<Map<string, number>> {
    const streams = new Map<string, number>();
    const root = join(this.options.dir, 'streams');
    const entries = await readdir(root, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      if (!entry.isDirectory()) continue;
      let name: string;
      try {
        name = decodeURIComponent(entry.name);
      } catch {
        continue;
      }
      const parts = await readdir(join(root, entry.name)).catch(() => [] as string[]);
      const count = parts.filter((p) => /^\d+$/.test(p)).reduce((max, p) => Math.max(max, Number(p) + 1), 0);
      if (count > 0) streams.set(name, count);
    }
    return streams;
  }

  /** Refuses a directory another live broker process holds (a stale LOCK after kill -9 is taken over). */
  private async lock(): Promise<void> {
    const path = join(this.options.dir, 'LOCK');
    const holder = Number((await readFile(path, 'utf8').catch(() => '')).trim());
    if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && (await isLiveNodeProcess(holder))) {
      this.state = 'new';
      throw new DataDirInUseError(`data directory ${this.options.dir} is in use by process ${holder}`);
    }
    await writeFile(path, `${process.pid}\n`);
  }
}

async function isLiveNodeProcess(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  // A recycled pid belonging to something else is not a broker: look at what it runs where we can.
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => null);
  return cmdline === null || /node|junction/.test(cmdline);
}
