/**
 * The journal's index snapshot (`<journal>/index.snap`): the live-record index (message locations
 * and summaries, metadata key locations with their values, delivery counts, live bytes per
 * segment) as it stood at one point of the journal, with the segments it describes and how many
 * bytes of each. Opening loads it and scans only what was written after it (the rest of the
 * segment that was the head, and newer segments), so a restart does not rescan a deep backlog.
 * Written at clean close and periodically while the journal runs (journal.ts): after a crash the
 * newest snapshot is older than the journal's tail, which is fine as long as the segments it
 * describes are still the same files, or were compacted away (then nothing live may be left in
 * them after the replay); when the head it names is gone, a file is shorter or its bytes differ,
 * or the snapshot is damaged, recovery scans every segment.
 *
 * Layout: u32 magic | u32 version | u32 segmentCount, then per segment f64 id | f64 size |
 * u32 CRC-32 of the segment's last (up to) 4 KiB before `size` | the index (segment-liveness.ts
 * encode) | u32 CRC-32 of everything before it. Streamed to a temporary file, fdatasynced, then
 * renamed over the previous one and the directory fsynced: a crash at any point leaves the
 * previous snapshot or the new one, never a mix (a leftover temporary file is removed at open).
 */
import { crc32 } from '@node-rs/crc32';
import { open, readFile, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { LiveRecordIndex, type IndexCapture } from './segment-liveness.js';
import { decodeGroup, RECORD_HEADER, segmentFileName } from './journal-format.js';
import { SNAPSHOT_SUPPORTED, SNAPSHOT_VERSION as VERSION, SnapshotReader, SnapshotWriter } from './snapshot-codec.js';
import type { MessageSummary } from '../store.js';

export const SNAPSHOT_FILE = 'index.snap';
const TMP_FILE = `${SNAPSHOT_FILE}.tmp`;
/**
 * Encoded bytes gathered before they are written in one writev (and the event loop runs again).
 * Gathering costs little (large columns are views, not copies; the CRC runs at GB/s), while each
 * write waits a turn of an event loop that may be busy with a flood of publishes: few, large steps.
 */
const WRITE_BYTES = 8 * 1024 * 1024;
const MAGIC = 0x4a534e31; // "JSN1"
/** Version 2 (every chunk of the message table as plain columns) is still read; 1 is refused (the journal is scanned once). */
const OLDEST_READ = 2;
const TAIL_CHECK_BYTES = 4096;

export interface SnapshotSegment {
  id: number;
  /** Bytes of the segment the snapshot describes; later bytes are scanned at open. */
  size: number;
}

export interface LoadedSnapshot {
  live: LiveRecordIndex;
  metadata: Map<string, Map<string, Buffer>>;
  segments: SnapshotSegment[];
  /**
   * Segments it names that compaction deleted since: allowed, since every record of theirs that
   * was live in the snapshot was copied or removed by a record written after it; open checks that
   * nothing live is left in them once the journal after the snapshot is replayed.
   */
  gone: number[];
  /** Bytes of the snapshot file (logs, tests). */
  bytes: number;
}

/** CRC-32 of the (up to) 4 KiB of the file before `size`: proof the snapshot's segment is still this file. */
async function tailCrc(path: string, size: number): Promise<number> {
  const n = Math.min(TAIL_CHECK_BYTES, size);
  const buf = Buffer.alloc(n);
  const fh = await open(path, 'r');
  try {
    let got = 0;
    while (got < n) {
      const { bytesRead } = await fh.read(buf, got, n - got, size - n + got);
      if (bytesRead === 0) throw new Error('segment shorter than the snapshot says');
      got += bytesRead;
    }
  } finally {
    await fh.close();
  }
  return crc32(buf) >>> 0;
}

/** A snapshot given up before it replaced the previous one (the journal closing, or a write error since its capture). */
export class SnapshotAbandoned extends Error {
  override readonly name = 'SnapshotAbandoned';
}

export interface SnapshotWriteControl {
  /** Checked between steps of the encoding: true stops it (the temporary file is removed). */
  abandon?: () => boolean;
  /** Checked after the file is synced, just before the rename: false keeps the previous snapshot. */
  commit?: () => boolean;
}

/**
 * Writes the snapshot of the captured index `capture` describing `segments` (every segment of the
 * journal when it was captured, whose described bytes are written and synced by now). `valueOf`
 * gives each current metadata key's value. The encoding is streamed to the file 8 MiB at a time
 * (one writev each), so the event loop runs between steps and memory does not hold a second copy
 * of the index.
 * Returns the snapshot's bytes.
 */
export async function writeSnapshot(
  dir: string, segments: SnapshotSegment[], capture: IndexCapture, valueOf: (ns: string, key: string) => Buffer,
  control: SnapshotWriteControl = {},
): Promise<number> {
  if (!SNAPSHOT_SUPPORTED) return 0;
  const w = new SnapshotWriter();
  w.u32(MAGIC);
  w.u32(VERSION);
  w.u32(segments.length);
  for (const s of segments) {
    w.f64(s.id);
    w.f64(s.size);
    w.u32(await tailCrc(join(dir, segmentFileName(s.id)), s.size));
  }
  const tmp = join(dir, TMP_FILE);
  const fh = await open(tmp, 'w');
  let bytes = 0;
  let crc = 0;
  const writeOut = async (): Promise<void> => {
    let parts = w.take();
    let left = 0;
    for (const p of parts) {
      crc = crc32(p, crc);
      left += p.length;
    }
    while (left > 0) {
      const { bytesWritten } = await fh.writev(parts, bytes);
      if (bytesWritten <= 0) throw new Error('index snapshot: short write');
      bytes += bytesWritten;
      left -= bytesWritten;
      parts = dropBytes(parts, bytesWritten);
    }
  };
  try {
    for (const _ of LiveRecordIndex.encode(capture, w, valueOf)) {
      if (control.abandon?.()) throw new SnapshotAbandoned('index snapshot abandoned');
      if (w.buffered >= WRITE_BYTES) await writeOut();
    }
    await writeOut();
    const trailer = Buffer.allocUnsafe(4);
    trailer.writeUInt32LE(crc >>> 0, 0);
    await fh.write(trailer, 0, 4, bytes);
    bytes += 4;
    await fh.datasync();
  } catch (err) {
    await fh.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await fh.close();
  if (control.commit && !control.commit()) {
    await unlink(tmp).catch(() => undefined);
    throw new SnapshotAbandoned('index snapshot abandoned: the journal failed a write since it was taken');
  }
  await rename(tmp, join(dir, SNAPSHOT_FILE));
  const d = await open(dir, 'r');
  try {
    await d.sync();
  } finally {
    await d.close();
  }
  return bytes;
}

/** `parts` without their first `n` bytes (after a short writev). */
function dropBytes(parts: Buffer[], n: number): Buffer[] {
  let i = 0;
  while (i < parts.length && n >= parts[i].length) n -= parts[i++].length;
  return i < parts.length ? [parts[i].subarray(n), ...parts.slice(i + 1)] : [];
}

/**
 * The snapshot if it is intact and still describes the segments on disk (`ids`, ascending), else
 * null with the reason. Every segment it names must exist, be at least as long, and end its
 * described bytes as it did; every segment on disk up to its newest must be one it names.
 */
export async function readSnapshot(
  dir: string, ids: number[], summarize: (message: Buffer) => MessageSummary,
): Promise<LoadedSnapshot | { problem: string } | null> {
  if (!SNAPSHOT_SUPPORTED) return null;
  let buf: Buffer;
  try {
    buf = await readFile(join(dir, SNAPSHOT_FILE));
  } catch {
    return null;
  }
  try {
    if (buf.length < 16 || buf.readUInt32LE(0) !== MAGIC) return { problem: 'not an index snapshot' };
    if ((crc32(buf.subarray(0, buf.length - 4)) >>> 0) !== buf.readUInt32LE(buf.length - 4)) return { problem: 'checksum mismatch' };
    const r = new SnapshotReader(buf.subarray(0, buf.length - 4));
    r.u32();
    const version = r.u32();
    if (version < OLDEST_READ || version > VERSION) return { problem: 'unknown snapshot version' };
    const segments: SnapshotSegment[] = [];
    const crcs: number[] = [];
    for (let n = r.u32(); n > 0; n--) {
      segments.push({ id: r.f64(), size: r.f64() });
      crcs.push(r.u32());
    }
    if (segments.length === 0) return { problem: 'no segments' };
    const newest = segments[segments.length - 1].id;
    const named = new Set(segments.map((s) => s.id));
    if (ids.some((id) => id <= newest && !named.has(id))) return { problem: 'a segment on disk is not in the snapshot' };
    const gone: number[] = [];
    for (let i = 0; i < segments.length; i++) {
      const s = segments[i];
      const path = join(dir, segmentFileName(s.id));
      const size = await stat(path).then((st) => st.size, () => -1);
      // Older segments may have been compacted away (oldest first); the one that was the head holds
      // the start of the journal written after the snapshot and must still be there.
      if (size < 0 && i < segments.length - 1) {
        gone.push(s.id);
        continue;
      }
      if (size < s.size) return { problem: `segment ${s.id} is missing or shorter than the snapshot says` };
      if ((await tailCrc(path, s.size)) !== crcs[i]) return { problem: `segment ${s.id} differs from the snapshot` };
    }
    const live = new LiveRecordIndex(summarize);
    const metadata = new Map<string, Map<string, Buffer>>();
    live.readFrom(r, metadata, version);
    if (!r.done) return { problem: 'trailing bytes' };
    return { live, metadata, segments, gone, bytes: buf.length };
  } catch (err) {
    return { problem: (err as Error).message };
  }
}

/** Removes the snapshot (a damaged or stale one, or a test simulating its absence). */
export async function removeSnapshot(dir: string): Promise<void> {
  await unlink(join(dir, SNAPSHOT_FILE)).catch(() => undefined);
}

/** Removes what a crash in the middle of writing a snapshot left (the previous snapshot, if any, is intact). */
export async function removeSnapshotLeftover(dir: string): Promise<void> {
  await unlink(join(dir, TMP_FILE)).catch(() => undefined);
}

/**
 * The value of every current metadata key, read from the record that holds it (the index keeps
 * only locations; the snapshot carries the values so that open need not read them).
 */
export async function readKeyValues(
  keys: Iterable<{ ns: string; key: string; seg: number; pos: number }>, pathOf: (seg: number) => string | undefined,
): Promise<Map<string, Map<string, Buffer>>> {
  const bySeg = new Map<number, Map<number, Array<{ ns: string; key: string }>>>();
  for (const k of keys) {
    let byPos = bySeg.get(k.seg);
    if (!byPos) bySeg.set(k.seg, (byPos = new Map()));
    let list = byPos.get(k.pos);
    if (!list) byPos.set(k.pos, (list = []));
    list.push({ ns: k.ns, key: k.key });
  }
  const out = new Map<string, Map<string, Buffer>>();
  for (const [seg, byPos] of bySeg) {
    const path = pathOf(seg);
    if (!path) throw new Error(`journal: segment ${seg} of a live key is gone`);
    const fh = await open(path, 'r');
    try {
      for (const pos of [...byPos.keys()].sort((a, b) => a - b)) {
        const header = Buffer.allocUnsafe(RECORD_HEADER);
        await readFully(fh, header, pos);
        const body = Buffer.allocUnsafe(header.readUInt32BE(0) + 1);
        await readFully(fh, body, pos + 8);
        const puts = new Map<string, Buffer>();
        for (const e of decodeGroup(body.subarray(1))) if (e.kind === 'put') puts.set(`${e.ns}\u0000${e.key}`, e.value);
        for (const { ns, key } of byPos.get(pos)!) {
          const value = puts.get(`${ns}\u0000${key}`);
          if (!value) throw new Error(`journal: the record of key ${ns}/${key} does not hold it`);
          let m = out.get(ns);
          if (!m) out.set(ns, (m = new Map()));
          m.set(key, value);
        }
      }
    } finally {
      await fh.close();
    }
  }
  return out;
}

async function readFully(fh: FileHandle, buf: Buffer, position: number): Promise<void> {
  for (let got = 0; got < buf.length;) {
    const { bytesRead } = await fh.read(buf, got, buf.length - got, position + got);
    if (bytesRead === 0) throw new Error('journal: segment ends inside a record');
    got += bytesRead;
  }
}
