/**
 * Brings logs that went offline after a write error (ENOSPC, EIO) back without a restart. A failed
 * journal or partition log registers here; one timer per store then probes whether the data
 * directory takes writes again (a small file written, fdatasynced and removed), and once it does
 * asks each failed log to recover: cut what was refused, rebuild its memory state from its files,
 * open a new writer. A log whose recovery fails stays registered and is tried again at the next tick.
 *
 * One probe for the whole store, not one per log: a disk that fills takes every partition offline
 * at once, and 10,000 partitions each writing a probe file every second would be a flood of its own.
 * Logged once when the first log goes offline and once when the last one is back.
 */
import { open, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { StorageLogger } from './segment-writer.js';

export interface RecoverableLog {
  /** For the log lines: `journal` or the partition's directory. */
  readonly label: string;
  /** Makes the log take writes again, its memory state matching its files; throws if the disk still refuses. */
  recover(): Promise<void>;
}

/** Big enough that a disk with a few blocks free does not pass the probe only to fail the next real write. */
const PROBE_BYTES = 256 * 1024;

export class StorageRecovery {
  private readonly failed = new Set<RecoverableLog>();
  private timer: NodeJS.Timeout | null = null;
  private round: Promise<void> | null = null;
  private since = 0;
  private recovered = 0;
  private closed = false;

  constructor(private readonly dir: string, private readonly intervalMs: number, private readonly logger: StorageLogger) {}

  /** Logs currently offline (tests, metrics). */
  get offlineCount(): number {
    return this.failed.size;
  }

  /** A log refused a write: it is probed from now on until it recovers. */
  offline(log: RecoverableLog, err: Error): void {
    if (this.closed || this.failed.has(log)) return;
    this.failed.add(log);
    if (this.timer) return;
    this.since = Date.now();
    this.recovered = 0;
    this.logger.warn({ err, log: log.label, probeMs: this.intervalMs },
      'storage write failed: refusing writes until the data directory takes writes again');
    this.timer = setInterval(() => void this.tick(), this.intervalMs);
    this.timer.unref();
  }

  /** A log closed or deleted while offline: nothing to recover. */
  forget(log: RecoverableLog): void {
    this.failed.delete(log);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.stop();
    this.failed.clear();
    await this.round;
  }

  /** One probe now (tests call it to avoid waiting for the timer); resolves when the round is done. */
  tick(): Promise<void> {
    this.round ??= this.probeAndRecover().finally(() => {
      this.round = null;
    });
    return this.round;
  }

  private async probeAndRecover(): Promise<void> {
    if (this.failed.size === 0 || !(await this.writable())) return;
    for (const log of [...this.failed]) {
      if (this.closed) return;
      try {
        await log.recover();
        this.failed.delete(log);
        this.recovered++;
      } catch {
        // Still refused (or space ran out again): tried again at the next tick, without another log line.
      }
    }
    if (this.failed.size === 0 && !this.closed) {
      this.stop();
      this.logger.warn({ logs: this.recovered, offlineMs: Date.now() - this.since }, 'storage writable again: writes accepted');
    }
  }

  private async writable(): Promise<boolean> {
    const path = join(this.dir, '.write-probe');
    try {
      const fh = await open(path, 'w');
      try {
        const { bytesWritten } = await fh.write(Buffer.alloc(PROBE_BYTES), 0, PROBE_BYTES, 0);
        if (bytesWritten < PROBE_BYTES) return false;
        await fh.datasync();
      } finally {
        await fh.close();
      }
      return true;
    } catch {
      return false;
    } finally {
      await unlink(path).catch(() => undefined);
    }
  }

  private stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
