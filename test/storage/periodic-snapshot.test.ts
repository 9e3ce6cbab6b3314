/**
 * Index snapshots taken while the journal runs (storage.snapshotEveryBytes, core/storage/
 * snapshot-schedule.ts): a crash then loads the newest and replays only what came after it. The
 * copy-on-write capture keeps a snapshot as the index was when it was taken, whatever changes
 * while it is written; a snapshot abandoned half-written (a crash, a close) leaves the previous
 * one usable; with compaction deleting segments meanwhile every crash point recovers what a full
 * scan recovers. A crash is taken as what it leaves on disk: the journal's files copied while the
 * store is open, everything flushed (as kill -9 leaves them).
 */
import assert from 'node:assert/strict';
import { cpSync, existsSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import type { FileStore } from '../../core/storage/file-store.js';
import { MessageTable } from '../../core/storage/message-table.js';
import { SnapshotReader, SnapshotWriter } from '../../core/storage/snapshot-codec.js';
import { eventually } from '../support/index.js';
import { ack, del, enqueue, put, store, tempDir } from './helpers.js';
import { crashCopy, deliver, openState, SNAP, summarize } from './snapshot-helpers.js';

const TMP = (dir: string) => join(dir, 'journal', 'index.snap.tmp');
const body = (seq: number) => `${seq % 7 === 0 ? 'h' : seq % 11 === 0 ? 'e' : 'm'}${seq}|${'p'.repeat(40)}`;

/** What the crashed copy recovers from its snapshot, checked against a full scan of the same files. */
async function recoverBothWays(dir: string, options = {}): Promise<{ how: string | undefined; state: object }> {
  const copy = tempDir('periodic-both');
  try {
    cpSync(join(dir, 'journal'), join(copy.dir, 'journal'), { recursive: true });
    rmSync(SNAP(copy.dir), { force: true });
    const fromSnapshot = await openState(dir, { snapshotEveryBytes: 0, ...options });
    const scanned = await openState(copy.dir, { snapshotEveryBytes: 0, ...options });
    assert.equal(scanned.how, 'scan');
    assert.deepEqual(fromSnapshot.warnings, []);
    assert.deepEqual(fromSnapshot.state, scanned.state, 'the snapshot plus the replay recovers what a full scan recovers');
    return fromSnapshot;
  } finally {
    copy.remove();
  }
}

/** While `full` is true every FileHandle writev and write fails with ENOSPC (a full disk: journal, snapshot and probe alike). */
async function diskFull(dir: string): Promise<{ full: boolean; restore: () => void }> {
  type Fn = (this: unknown, ...args: unknown[]) => Promise<unknown>;
  const probe = await open(join(dir, 'probe-handle'), 'w');
  const proto = Object.getPrototypeOf(probe) as Record<string, Fn>;
  await probe.close();
  rmSync(join(dir, 'probe-handle'));
  const saved = (['writev', 'write'] as const).map((m) => [m, proto[m]] as const);
  const fault = { full: false, restore: () => { for (const [m, fn] of saved) proto[m] = fn; } };
  for (const [m, fn] of saved) {
    proto[m] = async function (...args: unknown[]) {
      if (fault.full) throw Object.assign(new Error(`ENOSPC: no space left on device, ${m}`), { code: 'ENOSPC' });
      return fn.apply(this, args);
    };
  }
  return fault;
}

/** Resolves once no snapshot was written for 300 ms (none is in flight: they start only on writes). */
async function settled(s: FileStore): Promise<void> {
  for (let n = -1; n !== s.indexSnapshots;) {
    n = s.indexSnapshots;
    await new Promise((r) => setTimeout(r, 300));
  }
}

/** Messages seq from..to (every 97th in queues 1 and 2), in groups of 100, seqs spaced so they span several index chunks. */
async function fill(s: FileStore, from: number, to: number, spacing = 1): Promise<void> {
  for (let i = from; i <= to; i += 100) {
    const group = [];
    for (let n = i; n < Math.min(i + 100, to + 1); n++) group.push(enqueue(n * spacing, n % 97 === 0 ? [1, 2] : [1], body(n)));
    await s.journal(group);
  }
}

describe('storage/periodic index snapshot', () => {
  let t: ReturnType<typeof tempDir>;
  let u: ReturnType<typeof tempDir>;
  beforeEach(() => {
    t = tempDir('periodic');
    u = tempDir('periodic-crash');
  });
  afterEach(() => {
    t.remove();
    u.remove();
  });

  it('is taken while the journal runs; after kill -9 the newest one plus the journal after it recovers everything, acks and metadata included', async () => {
    const s = store(t.dir, { snapshotEveryBytes: 32 * 1024 });
    await s.open({ summarize });
    await s.journal([put('meta', 'a', 'one'), put('meta', 'b', 'two')]);
    await fill(s, 1, 3000);
    await eventually(() => s.indexSnapshots >= 1, { what: 'a periodic snapshot' });
    assert.ok(existsSync(SNAP(t.dir)), 'written without a close');
    await settled(s);
    await crashCopy(s, t.dir, u.dir);
    await s.close();
    // The crashed copy, opened from that snapshot, journals more with no newer snapshot (periodic ones off), and crashes again.
    const s2 = store(u.dir, { snapshotEveryBytes: 0 });
    assert.equal((await s2.open({ summarize })).journalIndex, 'snapshot');
    const acks = [];
    for (let seq = 100; seq < 300; seq++) acks.push(ack(seq, 1));
    await s2.journal(acks);
    await s2.journal([enqueue(9000, [2], 'm9000'), deliver(1, 1, 3), deliver(97, 2, 2), put('meta', 'a', 'three'), del('meta', 'b')]);
    await fill(s2, 3001, 3100);
    const v = tempDir('periodic-again');
    try {
      await crashCopy(s2, u.dir, v.dir);
      await s2.close();
      const crashed = await recoverBothWays(v.dir);
      assert.equal(crashed.how, 'snapshot');
      const { paged, metadata } = crashed.state as { paged: Array<{ seq: number; queues: number[]; deliveryCounts?: number[] }>; metadata: unknown };
      assert.equal(paged.length, 3100 - 200 + 2 + 1);
      assert.ok(!paged.some((m) => m.seq >= 100 && m.seq < 300 && m.seq % 97 !== 0), 'acked after the snapshot: gone');
      assert.deepEqual(paged.find((m) => m.seq === 194)!.queues, [2], 'a fan-out message acked from one queue after it');
      assert.ok(paged.some((m) => m.seq === 9000) && paged.some((m) => m.seq === 3100), 'enqueued after the snapshot: there');
      assert.deepEqual(paged.find((m) => m.seq === 1)!.deliveryCounts, [3]);
      assert.deepEqual(metadata, [['meta', [['a', 'three']]]]);
    } finally {
      v.remove();
    }
  });

  it('keeps what it captured while the index changes under it (copy-on-write), and the next open agrees with a full scan', async () => {
    // Seqs spaced 50 apart: 3,000 messages over three chunks of the packed table, each changed while the snapshot is written.
    const s = store(t.dir, { snapshotEveryBytes: 16 * 1024 });
    await s.open({ summarize });
    await fill(s, 1, 3000, 50);
    await eventually(() => s.indexSnapshots >= 1, { what: 'a periodic snapshot' });
    // Groups in many turns of the event loop, not awaited one by one: later snapshots are captured, then written while these change the chunks.
    const writes = [];
    for (let seq = 50, n = 3001; seq <= 150_000 || n <= 4000; seq += 50 * 3, n++) {
      if (seq <= 150_000) writes.push(s.journal([ack(seq, 1)]));
      if (n <= 4000) writes.push(s.journal([enqueue(n * 50, [1], body(n))]));
      if (n % 20 === 0) await new Promise((r) => setImmediate(r));
    }
    await Promise.all(writes);
    await eventually(() => s.indexSnapshots >= 2, { what: 'a snapshot taken during the changes' });
    await settled(s);
    await crashCopy(s, t.dir, u.dir);
    await s.close();
    assert.equal((await recoverBothWays(u.dir)).how, 'snapshot');
  });

  it('a crash while a snapshot is written leaves the previous one usable (the half-written file is removed at open); a close abandons one in flight', async () => {
    const s = store(t.dir, { snapshotEveryBytes: 32 * 1024 });
    await s.open({ summarize });
    await fill(s, 1, 3000);
    await eventually(() => s.indexSnapshots >= 1, { what: 'a periodic snapshot' });
    await s.journal([ack(5, 1), put('meta', 'k', 'after')]);
    await crashCopy(s, t.dir, u.dir);
    // What a crash in the middle of the next one leaves: its temporary file, cut anywhere.
    writeFileSync(TMP(u.dir), Buffer.alloc(5000, 7));
    const crashed = await recoverBothWays(u.dir);
    assert.equal(crashed.how, 'snapshot');
    assert.ok(!existsSync(TMP(u.dir)), 'the half-written snapshot is removed');
    // A close while one is in flight: it is abandoned, the close writes its own, nothing is left over.
    await fill(s, 3001, 6000);
    await s.close();
    assert.ok(!existsSync(TMP(t.dir)));
    assert.equal((await recoverBothWays(t.dir)).how, 'snapshot');
  });

  it('a full disk while snapshots are due: nothing refused gets into one, writes come back, and a crash after recovers what a full scan recovers', async () => {
    const s = store(t.dir, { snapshotEveryBytes: 16 * 1024, recoveryProbeMs: 20 });
    await s.open({ summarize });
    await fill(s, 1, 1000);
    await eventually(() => s.indexSnapshots >= 1, { what: 'a periodic snapshot' });
    const fault = await diskFull(t.dir);
    let refused = 0;
    try {
      fault.full = true;
      // Groups in flight together: the first write error refuses them all; snapshots due meanwhile are not committed.
      const groups = [];
      for (let n = 1001; n <= 1400; n += 10) groups.push(s.journal(Array.from({ length: 10 }, (_, k) => enqueue(n + k, [1], body(n + k)))).catch(() => refused++));
      await Promise.all(groups);
      assert.equal(refused, 40, 'every group refused');
      fault.full = false;
      await eventually(async () => {
        try {
          await s.journal([put('meta', 'back', 'yes')]);
          return true;
        } catch {
          return false;
        }
      }, { what: 'the journal taking writes again' });
    } finally {
      fault.restore();
    }
    const before = s.indexSnapshots;
    await fill(s, 1401, 3000);
    await eventually(() => s.indexSnapshots > before, { what: 'a snapshot after the recovery' });
    await settled(s);
    await crashCopy(s, t.dir, u.dir);
    await s.close();
    const crashed = await recoverBothWays(u.dir);
    assert.equal(crashed.how, 'snapshot');
    const { paged, metadata } = crashed.state as { paged: Array<{ seq: number }>; metadata: unknown };
    assert.deepEqual(paged.map((m) => m.seq), [...Array.from({ length: 1000 }, (_, i) => i + 1), ...Array.from({ length: 1600 }, (_, i) => 1401 + i)]);
    assert.deepEqual(metadata, [['meta', [['back', 'yes']]]]);
  });

  it('with compaction deleting segments meanwhile, every crash point recovers what a full scan recovers, mostly from a snapshot', async () => {
    const SEG = 16 * 1024;
    const options = { journalSegmentBytes: SEG, journalMaxSegments: 2, snapshotEveryBytes: 8 * 1024 };
    const s = store(t.dir, options);
    await s.open({ summarize });
    let next = 1;
    let from = 1;
    const ways: string[] = [];
    for (let round = 0; round < 12; round++) {
      await fill(s, next, next + 399);
      next += 400;
      // Ack most of the older messages: the oldest segments become dead and compaction deletes them.
      const acks = [];
      for (; from < next - 150; from++) if (from % 3 !== 0) acks.push(ack(from, 1));
      await s.journal(acks);
      await s.journal([put('meta', `r${round % 4}`, `round ${round}`), deliver(next - 1, 1, round + 1)]);
      await new Promise((r) => setTimeout(r, round * 7));
      await crashCopy(s, t.dir, u.dir);
      ways.push((await recoverBothWays(u.dir, { journalSegmentBytes: SEG })).how!);
    }
    await s.close();
    assert.ok(s.journalSegments[0] > 4, `compaction ran: segments ${s.journalSegments.join(", ")}`);
    assert.ok(ways.filter((w) => w === 'snapshot').length >= 6, `recovered from a snapshot: ${ways.join(', ')}`);
    assert.equal((await recoverBothWays(t.dir, { journalSegmentBytes: SEG })).how, 'snapshot');
  });
});

describe('storage/message table capture (copy-on-write)', () => {
  /** Encodes a capture and reads it into a fresh table: what the snapshot would hold. */
  function decode(w: SnapshotWriter): MessageTable {
    const t = new MessageTable();
    t.readFrom(new SnapshotReader(Buffer.concat(w.take())));
    return t;
  }
  const dump = (t: MessageTable) => [...t.entries()];

  it('a capture stays as it was while the table changes: adds, acks, fan-out, expiries, long lengths and sizes, segments moved, squeezes, emptied chunks', () => {
    const t = new MessageTable();
    for (let seq = 1; seq <= 200_000; seq += 7) {
      const expiry = seq % 11 === 0 ? { expiry: 2_000_000_000_000 + seq } : {};
      // Lengths and sizes past the u16 columns now and then (kept in side maps).
      const len = seq % 17 === 0 ? 65_535 + seq : 40;
      const size = seq % 19 === 0 ? 70_000 + seq : seq % 23 === 0 ? 65_534 : 40;
      // Queue ids past u16 in the last chunk (its column widened), then in the others while captured.
      const queue = seq > 196_608 && seq % 3 === 0 ? 70_000 : 1;
      t.set(seq, Math.floor(seq / 50_000), seq * 3, len, seq % 13 === 0 ? [1, 2, 3] : [queue], { size, priority: seq % 10, ...expiry });
    }
    const before = dump(t);
    const capture = t.capture();
    // Every kind of change, in every chunk.
    for (let seq = 1; seq <= 200_000; seq += 7) {
      if (seq % 2 === 0) t.removeQueue(seq, 1);
      else if (seq % 13 === 0) t.removeQueue(seq, 2);
      else if (seq % 5 === 0) t.set(seq, 9 + (seq % 3), 1, seq % 3 === 0 ? 100_000 : 40, [4, 5], undefined); // a compaction copy, now in two queues
      else if (seq % 3 === 0) t.set(seq, 12, 2, 40, [80_000 + seq], undefined);
    }
    for (let seq = 1; seq < 65536; seq += 7) t.removeAll(seq); // the first chunk emptied (dropped)
    for (let seq = 200_001; seq <= 210_000; seq++) t.set(seq, 5, seq, 10, [1], { size: 10 });
    const after = dump(t);
    assert.notDeepEqual(after, before);
    const w = new SnapshotWriter();
    for (const _ of MessageTable.encode(capture, w)) { /* all at once */ }
    t.release(capture);
    assert.deepEqual(dump(decode(w)), before, 'the snapshot holds the table as captured');
    assert.deepEqual(dump(t), after, 'the table holds every change');
    // Released: a new capture encodes the table as it is now.
    const again = new SnapshotWriter();
    for (const _ of MessageTable.encode(t.capture(), again)) { /* all at once */ }
    assert.deepEqual(dump(decode(again)), after);
  });
});
