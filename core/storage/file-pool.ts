/**
 * A store-wide cap on open partition files. Every segment file is a PooledFile: it is opened on
 * first use and stays open while it is used, so a hot partition keeps its descriptor, but when the
 * pool is full opening another file closes the least recently used idle one (never one with an
 * acquire outstanding, i.e. an I/O in flight). A file is closed only after its `beforeClose` hook
 * ran (a writer fsyncs what it wrote since the last sync), so the fsync policy holds across closes.
 *
 * Without the cap one descriptor per partition made CreatePartitions to 20,000 exhaust the
 * process's limit, after which every other client failed.
 */
import { open, type FileHandle } from 'node:fs/promises';

export interface PooledFileOptions {
  flags: string | number;
  /**
   * Runs once the file exists, before its first use (a new segment fsyncs its directory so its name
   * survives power loss). It may open one descriptor of its own: it runs in the file's slot, with
   * the file itself not yet open.
   */
  onFirstOpen?: () => Promise<void>;
}

export class FilePool {
  /** Open files, least recently used first. */
  private readonly lru = new Map<PooledFile, true>();
  /** Descriptors held: open, being opened or being closed. */
  private used = 0;
  private peakUsed = 0;
  private opens = 0;
  private readonly waiters: Array<() => void> = [];

  constructor(readonly maxOpen: number) {
    if (!(maxOpen >= 1)) throw new RangeError(`maxOpenFiles must be at least 1, not ${maxOpen}`);
  }

  /** Descriptors the pool holds now. */
  get openFiles(): number {
    return this.used;
  }

  /** Most descriptors held at once since the pool was made (tests). */
  get peak(): number {
    return this.peakUsed;
  }

  /** Descriptors opened so far, for the files and for jobs (tests: a hot file is opened once). */
  get openCount(): number {
    return this.opens;
  }

  file(path: string, options: PooledFileOptions): PooledFile {
    return new PooledFile(this, path, options);
  }

  /** Opens `path` for one job (recovery, index files) inside the cap, and closes it afterwards. */
  async with<T>(path: string, flags: string | number, job: (fh: FileHandle) => Promise<T>): Promise<T> {
    await this.takeSlot();
    let fh: FileHandle;
    try {
      fh = await open(path, flags, 0o644);
    } catch (err) {
      this.freeSlot();
      throw err;
    }
    try {
      return await job(fh);
    } finally {
      await fh.close().catch(() => undefined);
      this.freeSlot();
    }
  }

  /** Waits until a descriptor may be opened: a free slot, or one taken over from the least recently used idle file. */
  async takeSlot(): Promise<void> {
    for (;;) {
      if (this.used < this.maxOpen) {
        this.used++;
        this.opens++;
        if (this.used > this.peakUsed) this.peakUsed = this.used;
        return;
      }
      const victim = this.leastRecentIdle();
      if (victim) {
        this.opens++;
        return victim.evict();
      }
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  freeSlot(): void {
    this.used--;
    this.wakeOne();
  }

  /** A file became idle: a waiter may now take its slot. */
  becameIdle(): void {
    this.wakeOne();
  }

  opened(f: PooledFile): void {
    this.lru.set(f, true);
  }

  touch(f: PooledFile): void {
    this.lru.delete(f);
    this.lru.set(f, true);
  }

  forget(f: PooledFile): void {
    this.lru.delete(f);
  }

  private leastRecentIdle(): PooledFile | null {
    for (const f of this.lru.keys()) if (f.idle) return f;
    return null;
  }

  private wakeOne(): void {
    this.waiters.shift()?.();
  }
}

/** Error for an acquire after retire (the segment was deleted or its log closed); readers retry on ENOENT. */
function retiredError(path: string): Error {
  return Object.assign(new Error(`${path} is no longer available`), { code: 'ENOENT' });
}

export class PooledFile {
  flags: string | number;
  /** Runs before the descriptor is closed (a writer syncs what is dirty); its errors are its own business. */
  beforeClose: ((fh: FileHandle) => Promise<void>) | null = null;
  private handle: FileHandle | null = null;
  private opening: Promise<void> | null = null;
  private closing: Promise<void> | null = null;
  private users = 0;
  private openedOnce = false;
  private retired = false;

  constructor(private readonly pool: FilePool, readonly path: string, private readonly options: PooledFileOptions) {
    this.flags = options.flags;
  }

  get idle(): boolean {
    return this.users === 0 && this.handle !== null && this.closing === null && !this.retired;
  }

  get isOpen(): boolean {
    return this.handle !== null;
  }

  /** The open descriptor, pinned until release(): the pool never closes it meanwhile. */
  async acquire(): Promise<FileHandle> {
    this.users++;
    try {
      for (;;) {
        if (this.retired) throw retiredError(this.path);
        if (this.closing) await this.closing;
        else if (this.handle) {
          this.pool.touch(this);
          return this.handle;
        } else await (this.opening ??= this.openNow());
      }
    } catch (err) {
      this.release();
      throw err;
    }
  }

  release(): void {
    if (--this.users > 0) return;
    if (this.retired) {
      if (this.handle && !this.closing) void this.closeNow(false);
    } else if (this.handle) this.pool.becameIdle();
  }

  /** Closes the file for good (now, or when its last user releases it); later acquires fail with ENOENT. */
  retire(): Promise<void> {
    this.retired = true;
    if (this.closing) return this.closing;
    if (this.users === 0 && this.handle) return this.closeNow(false);
    return Promise.resolve();
  }

  /** Called by the pool on an idle file: closes it and hands its slot to the caller. */
  evict(): Promise<void> {
    return this.closeNow(true);
  }

  private async openNow(): Promise<void> {
    try {
      await this.pool.takeSlot();
      if (this.retired) {
        this.pool.freeSlot();
        return; // the acquire loop reports it
      }
      let fh: FileHandle | null = null;
      try {
        if (!this.openedOnce && this.options.onFirstOpen) {
          await (await open(this.path, this.flags, 0o644)).close();
          await this.options.onFirstOpen();
        }
        this.openedOnce = true;
        fh = await open(this.path, this.flags, 0o644);
      } catch (err) {
        await fh?.close().catch(() => undefined);
        this.pool.freeSlot();
        throw err;
      }
      this.handle = fh;
      this.pool.opened(this);
    } finally {
      this.opening = null;
    }
  }

  private closeNow(keepSlot: boolean): Promise<void> {
    const fh = this.handle!;
    this.pool.forget(this);
    const hook = this.beforeClose;
    this.closing = (async () => {
      try {
        await hook?.(fh);
      } finally {
        await fh.close().catch(() => undefined);
      }
    })().catch(() => undefined).finally(() => {
      this.handle = null;
      this.closing = null;
      if (!keepSlot) this.pool.freeSlot();
    });
    return this.closing;
  }
}
