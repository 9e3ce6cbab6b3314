/**
 * One warning for a store that refuses writes (a full disk, storage.maxDiskBytes reached, a
 * failing cluster store), however many publishes it refuses: an adapter answers each refusal with
 * its protocol's negative acknowledgement and tells this log, which writes one line at warn
 * (the store's message, no stack) and then at most one a minute while refusals go on, with how
 * many there were since the last line. The store itself logs once when it goes offline and when it
 * is writable again (core/storage/storage-recovery.ts).
 */
import type { Logger } from './adapter.js';

const WINDOW_MS = 60_000;

/** The store refused the write (StorageFailedError and DiskLimitError keep this name). */
export function isStoreRefusal(err: unknown): err is Error {
  return err instanceof Error && err.name === 'StorageFailedError';
}

export class StoreRefusalLog {
  private lastLine = -Infinity;
  private since = 0;
  /** Refusals since start. */
  refused = 0;

  constructor(private readonly log: Logger, private readonly protocol: string) {}

  /** True (and counted) when `err` is a store refusal; false for anything else, which the caller logs. */
  note(err: unknown, obj: Record<string, unknown> = {}): boolean {
    if (!isStoreRefusal(err)) return false;
    this.refused++;
    this.since++;
    const now = Date.now();
    if (now - this.lastLine >= WINDOW_MS) {
      this.log.warn({ ...obj, reason: err.message, refused: this.since },
        `${this.protocol}: the store refuses writes: publishes are refused (logged at most once a minute)`);
      this.lastLine = now;
      this.since = 0;
    }
    return true;
  }
}
