/**
 * For the index-snapshot tests (journal-snapshot, periodic-snapshot): a summary that gives some
 * messages a priority or an expiry, a recovery's state comparable across paths, a crash taken as
 * the journal's files copied while the store runs, and an open that reports how the index came back.
 */
import { cpSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { FileStore, FileStoreOptions } from '../../core/storage/file-store.js';
import type { StoreRecovery } from '../../core/store.js';
import { captureLog, store } from './helpers.js';

export const SNAP = (dir: string) => join(dir, 'journal', 'index.snap');
export const deliver = (seq: number, queue: number, count: number) => ({ kind: 'deliver' as const, seq, queue, count });
/** Bodies starting with 'h' have priority 7, with 'e' an expiry. */
export const summarize = (m: Buffer) => ({ size: m.length, ...(m[0] === 0x68 ? { priority: 7 } : {}), ...(m[0] === 0x65 ? { expiry: 1_900_000_000_000 } : {}) });

/** What a recovery says, comparable across paths. */
export function recoveryState(r: StoreRecovery): object {
  return {
    metadata: [...r.metadata].map(([ns, m]) => [ns, [...m].map(([k, v]) => [k, v.toString()]).sort()]),
    paged: [...r.paged!].map((m) => ({ ...m })),
  };
}

/** Copies the journal as a kill -9 would leave it (the store open, everything written to the OS). */
export async function crashCopy(s: FileStore, from: string, to: string): Promise<void> {
  await s.flush();
  // Compaction may delete a segment while the copy runs (its unlink is not stopped by a synchronous copy): copy again.
  for (let attempt = 0; ; attempt++) {
    rmSync(join(to, 'journal'), { recursive: true, force: true });
    try {
      cpSync(join(from, 'journal'), join(to, 'journal'), { recursive: true });
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || attempt >= 5) throw err;
    }
  }
}

/** Opens the store at `dir` once: how its index came back (`snapshot` / `scan`), its state, the warnings logged. */
export async function openState(dir: string, options: Partial<FileStoreOptions> = {}): Promise<{ how: string | undefined; state: object; warnings: string[] }> {
  const log = captureLog();
  const s = store(dir, { logger: log.logger, ...options });
  const r = await s.open({ summarize });
  const out = { how: r.journalIndex, state: recoveryState(r), warnings: log.warnings };
  await s.close();
  return out;
}
