import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readBatchHeader, setBaseOffset } from '../../core/stream/batch-header.js';
import { encodeBatch } from '../../core/stream/record-codec.js';
import { FileStore, FileStoreOptions } from '../../core/storage/file-store.js';
import type { FsyncPolicy, PartitionStore, RetentionPolicy, StoreRecovery, StoredBatchInfo } from '../../core/store.js';

export const POLICIES: FsyncPolicy[] = ['always', 'interval', 'never'];

/**
 * A fresh directory under the OS temp dir, removed by the returned function. The removal retries
 * ENOTEMPTY for up to 2 s, naming what it found on stderr: about 1 run in 20, a journal test's
 * cleanup finds a file created in the directory while it was being removed (seen before and after
 * the paging change, and in a clean-clone run of the suite; cause not found yet).
 */
export function tempDir(label: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `junction-${label}-`));
  const remove = (): void => {
    for (let attempt = 0; ; attempt++) {
      try {
        rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 20 });
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOTEMPTY' || attempt >= 20) throw err;
        process.stderr.write(`tempDir: ${dir} was not empty when removed (${listTree(dir).join(', ')}); removing again\n`);
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
      }
    }
  };
  return { dir, remove };
}

function listTree(dir: string): string[] {
  try {
    return readdirSync(dir, { recursive: true }).map(String);
  } catch {
    return [];
  }
}

export interface CapturedLog {
  warnings: string[];
  infos: string[];
  logger: { info(obj: unknown, msg?: string): void; warn(obj: unknown, msg?: string): void };
}

export function captureLog(): CapturedLog {
  const warnings: string[] = [];
  const infos: string[] = [];
  return {
    warnings, infos,
    logger: {
      info: (obj, msg) => infos.push(msg ?? String(obj)),
      warn: (obj, msg) => warnings.push(msg ?? String(obj)),
    },
  };
}

export function store(dir: string, options: Partial<FileStoreOptions> = {}): FileStore {
  return new FileStore({ dir, fsync: 'interval', fsyncIntervalMs: 20, logger: captureLog().logger, ...options });
}

/** Opens a store on `dir`, returns what it recovered, and closes it again. */
export async function reopen(dir: string, options: Partial<FileStoreOptions> = {}): Promise<StoreRecovery> {
  const s = store(dir, options);
  try {
    return await s.open();
  } finally {
    await s.close();
  }
}

export const POLICY: RetentionPolicy = { retentionMs: -1, retentionBytes: -1, segmentBytes: 1024 * 1024 };

/** A record batch v2 of `count` records with `size`-byte values, its base offset set as the broker would. */
export function batchAt(baseOffset: number, count: number, opts: { size?: number; timestamp?: number; producerId?: bigint; tag?: string } = {}): { batch: Buffer; info: StoredBatchInfo } {
  const ts = opts.timestamp ?? 1_700_000_000_000;
  const records = Array.from({ length: count }, (_, i) => ({
    timestamp: ts + i,
    key: null,
    value: Buffer.from(`${opts.tag ?? 'v'}${baseOffset + i}:`.padEnd(opts.size ?? 16, 'x')),
    headers: [],
  }));
  const batch = encodeBatch(records, opts.producerId !== undefined ? { producerId: opts.producerId, producerEpoch: 0, baseSequence: baseOffset } : {});
  setBaseOffset(batch, baseOffset);
  const h = readBatchHeader(batch);
  return {
    batch,
    info: { baseOffset, lastOffset: baseOffset + h.lastOffsetDelta, maxTimestamp: h.maxTimestamp, producerId: h.producerId, producerEpoch: h.producerEpoch, baseSequence: h.baseSequence },
  };
}

/** Appends `batches` batches of `count` records at the log end; resolves when all are stored. */
export async function appendMany(p: PartitionStore, batches: number, count: number, opts: Parameters<typeof batchAt>[2] = {}): Promise<void> {
  const waits: Promise<void>[] = [];
  for (let i = 0; i < batches; i++) {
    const { batch, info } = batchAt(p.nextOffset, count, opts);
    waits.push(p.append(batch, info));
  }
  await Promise.all(waits);
}

export function offsetsOf(batches: Buffer[]): number[] {
  return batches.map((b) => readBatchHeader(b).baseOffset);
}

export const put = (ns: string, key: string, value: string) => ({ kind: 'put' as const, ns, key, value: Buffer.from(value) });
export const del = (ns: string, key: string) => ({ kind: 'del' as const, ns, key });
export const enqueue = (seq: number, queues: number[], body = `m${seq}`) => ({ kind: 'enqueue' as const, seq, queues, message: Buffer.from(body) });
export const ack = (seq: number, queue: number) => ({ kind: 'ack' as const, seq, queue });

/** Metadata as plain strings, for deepEqual. */
export function plain(metadata: Map<string, Map<string, Buffer>>): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  for (const [ns, m] of [...metadata].sort()) {
    out[ns] = {};
    for (const [k, v] of [...m].sort()) out[ns][k] = v.toString();
  }
  return out;
}
