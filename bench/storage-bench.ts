/**
 * Storage figures on this machine's disk: raw sequential write speed (the ceiling), stream append
 * and read-back through PartitionLog, journal group-commit throughput, and the time to reopen a
 * 1 GB store. Run: `npx tsc -p . && node dist/bench/storage-bench.js`.
 *
 * Files live under the project's `.bench-tmp/` and are deleted only at the end: on a filesystem
 * mounted with `discard`, deleting a large file slows the next fsync, which would skew the next
 * figure (seen on this machine: raw runs after a delete varied 5x). Reads and recovery run
 * with the page cache warm (the data was just written); dropping caches needs root over the whole
 * machine, so it is not done here.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, fdatasyncSync, fsyncSync, openSync, writeSync } from 'node:fs';
import { mkdir, readdir, rm, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readBatchHeader, setBaseOffset } from '../core/stream/batch-header.js';
import { encodeBatch } from '../core/stream/record-codec.js';
import { FileStore } from '../core/storage/file-store.js';
import type { FsyncPolicy, JournalEntry, PartitionStore, RetentionPolicy } from '../core/store.js';

const MiB = 1024 * 1024;
const SEGMENT: RetentionPolicy = { retentionMs: -1, retentionBytes: -1, segmentBytes: 64 * MiB };
const quiet = { info: () => undefined, warn: (o: unknown, m?: string) => console.warn(m, o) };
const seconds = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e9;
const round = (n: number, digits = 1) => Number(n.toFixed(digits));

/** Writes back other phases' dirty pages first, so each figure measures only its own writes. */
function settle(): void {
  try {
    execFileSync('sync');
  } catch {
    // no sync binary: figures are just noisier
  }
}

function rawWrite(file: string, totalMiB: number, syncEveryMiB: boolean): number {
  settle();
  const buf = Buffer.alloc(MiB, 0x5a);
  const fd = openSync(file, 'w');
  const start = process.hrtime.bigint();
  for (let i = 0; i < totalMiB; i++) {
    writeSync(fd, buf);
    if (syncEveryMiB) fdatasyncSync(fd);
  }
  fsyncSync(fd);
  const mbps = totalMiB / seconds(start);
  closeSync(fd);
  return mbps;
}

/** A batch of `count` records of `size` bytes, as a producer would send it (base offset 0). */
function templateBatch(count: number, size: number): Buffer {
  const now = Date.now();
  const records = Array.from({ length: count }, (_, i) => ({ timestamp: now + i, key: null, value: Buffer.alloc(size, 97 + (i % 26)), headers: [] }));
  return encodeBatch(records);
}

/** Appends copies of `template` with sequential offsets (as the broker does) until `totalBytes`; keeps a bounded window in flight. */
async function appendStream(p: PartitionStore, template: Buffer, totalBytes: number): Promise<number> {
  const h = readBatchHeader(template);
  const window: Promise<void>[] = [];
  let written = 0;
  let batches = 0;
  while (written < totalBytes) {
    const batch = Buffer.from(template); // each produce request arrives in its own buffer
    const base = p.nextOffset;
    setBaseOffset(batch, base);
    window.push(p.append(batch, {
      baseOffset: base, lastOffset: base + h.lastOffsetDelta, maxTimestamp: h.maxTimestamp,
      producerId: h.producerId, producerEpoch: h.producerEpoch, baseSequence: h.baseSequence,
    }));
    written += batch.length;
    batches++;
    if (window.length >= 256) await window.shift();
  }
  await Promise.all(window);
  return batches;
}

async function streamFigures(dir: string, recordSize: number, totalMiB: number, policy: FsyncPolicy): Promise<Record<string, number>> {
  const template = templateBatch(100, recordSize);
  settle();
  let s = new FileStore({ dir, fsync: policy, logger: quiet });
  await s.open();
  let p = await s.openPartition('bench', 0, SEGMENT);
  const start = process.hrtime.bigint();
  const batches = await appendStream(p, template, totalMiB * MiB);
  await s.flush(); // same footing as the raw figure, which fsyncs at the end
  const t = seconds(start);
  await s.close();
  // Read back through a freshly opened log, so the tail cache does not serve it.
  s = new FileStore({ dir, fsync: policy, logger: quiet });
  await s.open();
  p = await s.openPartition('bench', 0, SEGMENT);
  const readStart = process.hrtime.bigint();
  let bytes = 0;
  for (let offset = 0; offset < p.nextOffset;) {
    const got = await p.read(offset, MiB);
    for (const b of got) bytes += b.length;
    const last = readBatchHeader(got[got.length - 1]);
    offset = last.baseOffset + last.lastOffsetDelta + 1;
  }
  const readSeconds = seconds(readStart);
  await s.close();
  const total = batches * template.length;
  return {
    appendMBps: round(total / MiB / t), appendRecordsPerSec: Math.round((batches * 100) / t),
    readMBps: round(bytes / MiB / readSeconds),
  };
}

async function journalFigures(dir: string, policy: FsyncPolicy, groups: number): Promise<{ groupsPerSec: number; MBps: number }> {
  const s = new FileStore({ dir, fsync: policy, logger: quiet });
  await s.open();
  const body = Buffer.alloc(200, 0x6d);
  const window: Promise<void>[] = [];
  let bytes = 0;
  const start = process.hrtime.bigint();
  for (let seq = 0; seq < groups; seq++) {
    const entries: JournalEntry[] = [{ kind: 'enqueue', seq, queues: [1], message: body }];
    if (seq >= 1000) entries.push({ kind: 'ack', seq: seq - 1000, queue: 1 });
    window.push(s.journal(entries));
    bytes += 240;
    if (window.length >= 1000) await window.shift(); // 1000 publishers waiting for their acks
  }
  await Promise.all(window);
  await s.flush();
  const t = seconds(start);
  await s.close();
  return { groupsPerSec: Math.round(groups / t), MBps: round(bytes / MiB / t) };
}

async function recoveryFigures(dir: string): Promise<Record<string, number>> {
  const partitions = 8;
  const s = new FileStore({ dir, fsync: 'interval', logger: quiet });
  await s.open();
  const template = templateBatch(100, 1024);
  await Promise.all(Array.from({ length: partitions }, async (_, i) => appendStream(await s.openPartition('recovery', i, SEGMENT), template, 128 * MiB)));
  const body = Buffer.alloc(500, 0x6a);
  const waits: Promise<void>[] = [];
  for (let seq = 0; seq < 100_000; seq++) {
    waits.push(s.journal([{ kind: 'enqueue', seq, queues: [1, 2], message: body }, { kind: 'put', ns: 'offsets', key: `g${seq % 1000}`, value: Buffer.from(String(seq)) }]));
    if (waits.length >= 1000) await waits.shift();
  }
  await Promise.all(waits);
  await s.close();

  const reopen = async (): Promise<{ seconds: number; messages: number; bytes: number }> => {
    const start = process.hrtime.bigint();
    const again = new FileStore({ dir, fsync: 'interval', logger: quiet });
    const r = await again.open();
    let bytes = 0;
    for (let i = 0; i < partitions; i++) bytes += (await again.openPartition('recovery', i, SEGMENT)).sizeBytes;
    const t = seconds(start);
    await again.close();
    return { seconds: t, messages: r.messages.length, bytes };
  };
  settle();
  const clean = await reopen();
  // A crash leaves no clean-close checkpoint: every active segment is CRC-validated in full.
  for (let i = 0; i < partitions; i++) {
    const pdir = join(dir, 'streams', 'recovery', String(i));
    const logs = (await readdir(pdir)).filter((f) => f.endsWith('.log')).sort();
    await rm(join(pdir, logs[logs.length - 1].replace('.log', '.index')), { force: true });
  }
  const crashed = await reopen();
  return {
    storeGB: round(clean.bytes / 1e9, 2), journalMessages: clean.messages,
    cleanSeconds: round(clean.seconds, 3), crashSeconds: round(crashed.seconds, 3),
  };
}

export async function runStorageBench(): Promise<Record<string, string | number>> {
  const root = join(fileURLToPath(new URL('../..', import.meta.url)), '.bench-tmp', `storage-${process.pid}`);
  await mkdir(root, { recursive: true });
  const out: Record<string, string | number> = {};
  try {
    out['raw write MB/s (512 MiB, 1 MiB writes, fsync at end)'] = round(rawWrite(join(root, 'raw-end'), 512, false));
    out['raw write MB/s (512 MiB, fdatasync every 1 MiB)'] = round(rawWrite(join(root, 'raw-every'), 512, true));
    for (const [label, size, mib] of [['100 B', 100, 256], ['1 KB', 1024, 512]] as const) {
      // The disk's speed drifts from run to run: pair each append run with a raw run of the same size
      // (alternating which goes first) and report medians over three pairs.
      const runs: Array<Record<string, number>> = [];
      for (let rep = 0; rep < 3; rep++) {
        const rawFile = join(root, `raw-${size}-${rep}`);
        const raw = rep % 2 === 0 ? rawWrite(rawFile, mib, false) : 0;
        const f = await streamFigures(join(root, `stream-${size}-${rep}`), size, mib, 'interval');
        const rawMBps = rep % 2 === 0 ? raw : rawWrite(rawFile, mib, false);
        runs.push({ ...f, rawMBps, ratio: f.appendMBps / rawMBps });
      }
      const median = (key: string) => runs.map((r) => r[key]).sort((a, b) => a - b)[1];
      out[`stream append MB/s (${label} records, batches of 100, ${mib} MiB)`] = median('appendMBps');
      out[`stream append records/s (${label})`] = median('appendRecordsPerSec');
      out[`stream append / paired raw write (${label}), median of 3`] = `${Math.round(100 * median('ratio'))}% (runs ${runs.map((r) => `${Math.round(r.appendMBps)}/${Math.round(r.rawMBps)}`).join(', ')} MB/s)`;
      out[`stream read-back MB/s (${label})`] = median('readMBps');
    }
    for (const policy of ['interval', 'always'] as const) {
      const j = await journalFigures(join(root, `journal-${policy}`), policy, 200_000);
      out[`journal groups/s (fsync ${policy}, 1000 callers)`] = j.groupsPerSec;
      out[`journal MB/s (fsync ${policy})`] = j.MBps;
    }
    const r = await recoveryFigures(join(root, 'recovery'));
    out['recovery store size GB (8 partitions, 64 MiB segments)'] = r.storeGB;
    out['recovery journal messages'] = r.journalMessages;
    out['recovery open()+openPartition s, after clean close'] = r.cleanSeconds;
    out['recovery open()+openPartition s, after crash'] = r.crashSeconds;
  } finally {
    await rm(root, { recursive: true, force: true });
    await rmdir(join(root, '..')).catch(() => undefined); // .bench-tmp itself, unless another bench uses it
  }
  return out;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const figures = await runStorageBench();
  for (const [k, v] of Object.entries(figures)) console.log(`${k.padEnd(62)} ${v}`);
}
