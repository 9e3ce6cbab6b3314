/**
 * The journal's index snapshot (core/storage/journal-snapshot.ts): a clean close writes it, the
 * next open loads it and scans only the journal written after it; a crash (no snapshot newer
 * than the data), a damaged snapshot or one describing segments that changed falls back to a
 * full scan, and every path recovers the same state. A crash is taken as what it leaves on disk:
 * the journal's files copied while the store is open and flushed (as kill -9 leaves them).
 */
import assert from 'node:assert/strict';
import { cpSync, existsSync, readFileSync, readdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FileStore } from '../../core/storage/file-store.js';
import { ack, del, enqueue, put, store, tempDir } from './helpers.js';
import { crashCopy, deliver, openState, SNAP, summarize } from './snapshot-helpers.js';


/** 3,000 messages in two queues (some in both, some with a priority or an expiry), acks, deliveries, metadata. */
async function fill(s: FileStore): Promise<void> {
  for (let i = 1; i <= 3000; i += 100) {
    const group = [];
    for (let seq = i; seq < i + 100; seq++) {
      const body = `${seq % 7 === 0 ? 'h' : seq % 11 === 0 ? 'e' : 'm'}${seq}`;
      group.push(enqueue(seq, seq % 5 === 0 ? [1, 2] : [1], body));
    }
    await s.journal(group);
  }
  await s.journal([ack(2, 1), ack(5, 1), ack(10, 2), deliver(3, 1, 2), deliver(15, 2, 1), put('meta', 'a', 'one'), put('meta', 'b', 'two')]);
  await s.journal([put('meta', 'a', 'three'), del('meta', 'b'), put('meta', 'c', 'x'.repeat(5000))]);
}

describe('storage/journal index snapshot', () => {
  let t: ReturnType<typeof tempDir>;
  let u: ReturnType<typeof tempDir>;
  beforeEach(() => {
    t = tempDir('snapshot');
    u = tempDir('snapshot-crash');
  });
  afterEach(() => {
    t.remove();
    u.remove();
  });

  it('is written at clean close and loaded at open, recovering what a full scan recovers', async () => {
    const s = store(t.dir);
    await s.open({ summarize });
    await fill(s);
    await s.close();
    assert.ok(existsSync(SNAP(t.dir)), 'snapshot written at close');
    const fromSnapshot = await openState(t.dir);
    assert.equal(fromSnapshot.how, 'snapshot');
    assert.deepEqual(fromSnapshot.warnings, []);
    rmSync(SNAP(t.dir));
    const fromScan = await openState(t.dir);
    assert.equal(fromScan.how, 'scan');
    assert.deepEqual(fromSnapshot.state, fromScan.state);
    const paged = (fromScan.state as { paged: Array<{ seq: number; queues: number[]; deliveryCounts?: number[]; summary: object }> }).paged;
    assert.equal(paged.length, 2999, 'seq 5 left both queues, seq 2 its only one; seq 10 is still in queue 1');
    assert.deepEqual(paged.find((m) => m.seq === 10)!.queues, [1]);
    assert.deepEqual(paged.find((m) => m.seq === 3)!.deliveryCounts, [2]);
    assert.deepEqual(paged.find((m) => m.seq === 14)!.summary, { size: 3, priority: 7 });
    assert.deepEqual(paged.find((m) => m.seq === 22)!.summary, { size: 3, expiry: 1_900_000_000_000 });
    // Bodies are read back from where the snapshot says they are.
    const again = store(t.dir);
    await again.open({ summarize });
    assert.deepEqual((await again.readMessages([1, 14, 3000, 2])).map((b) => b?.toString()), ['m1', 'h14', 'm3000', undefined]);
    await again.close();
  });

  it('after kill -9 with no snapshot, scans the whole journal', async () => {
    const s = store(t.dir);
    await s.open({ summarize });
    await fill(s);
    await crashCopy(s, t.dir, u.dir);
    await s.close();
    assert.ok(!existsSync(SNAP(u.dir)), 'a crash leaves no snapshot');
    const crashed = await openState(u.dir);
    assert.equal(crashed.how, 'scan');
    assert.deepEqual(crashed.state, (await openState(t.dir)).state);
  });

  it('after kill -9 with an older snapshot, loads it and replays what was written after it: acks, enqueues, metadata', async () => {
    const s = store(t.dir);
    await s.open({ summarize });
    await fill(s);
    await s.close();
    const s2 = store(t.dir);
    assert.equal((await s2.open({ summarize })).journalIndex, 'snapshot');
    const acks = [];
    for (let seq = 100; seq < 600; seq++) acks.push(ack(seq, 1));
    await s2.journal(acks);
    await s2.journal([enqueue(5000, [2], 'm5000'), deliver(1, 1, 4), put('meta', 'd', 'after'), del('meta', 'a')]);
    await crashCopy(s2, t.dir, u.dir);
    await s2.close();
    const crashed = await openState(u.dir);
    assert.equal(crashed.how, 'snapshot');
    rmSync(SNAP(u.dir));
    const scanned = await openState(u.dir);
    assert.deepEqual(crashed.state, scanned.state);
    const paged = (crashed.state as { paged: Array<{ seq: number; deliveryCounts?: number[] }> }).paged;
    assert.ok(!paged.some((m) => m.seq >= 100 && m.seq < 600 && m.seq % 5 !== 0), 'acked after the snapshot: gone');
    assert.ok(paged.some((m) => m.seq === 5000), 'enqueued after the snapshot: there');
    assert.deepEqual(paged.find((m) => m.seq === 1)!.deliveryCounts, [4]);
    assert.deepEqual((crashed.state as { metadata: unknown }).metadata, [['meta', [['c', 'x'.repeat(5000)], ['d', 'after']]]]);
  });

  it('falls back to a full scan when the snapshot is corrupt, and says so once', async () => {
    const s = store(t.dir);
    await s.open({ summarize });
    await fill(s);
    await s.close();
    const expected = (await openState(t.dir)).state; // loads and rewrites the snapshot at close
    const bytes = readFileSync(SNAP(t.dir));
    bytes[Math.floor(bytes.length / 2)] ^= 0xff;
    writeFileSync(SNAP(t.dir), bytes);
    const corrupt = await openState(t.dir);
    assert.equal(corrupt.how, 'scan');
    assert.deepEqual(corrupt.warnings, ['journal: index snapshot not usable; scanning every segment']);
    assert.deepEqual(corrupt.state, expected);
    writeFileSync(SNAP(t.dir), bytes.subarray(0, 100)); // cut short
    assert.equal((await openState(t.dir)).how, 'scan');
  });

  it('is still used after kill -9 once compaction deleted older segments it names (its head still there), recovering what a full scan recovers', async () => {
    const SEG = 16 * 1024;
    const s = store(t.dir, { journalSegmentBytes: SEG });
    await s.open({ summarize });
    await fill(s);
    await s.close();
    const named = readdirSync(join(t.dir, 'journal')).filter((f) => f.endsWith('.seg')).sort();
    const s2 = store(t.dir, { journalSegmentBytes: SEG });
    assert.equal((await s2.open({ summarize })).journalIndex, 'snapshot');
    // Ack almost everything: compaction deletes the oldest segments the snapshot names.
    const acks = [];
    for (let seq = 1; seq <= 2990; seq++) {
      acks.push(ack(seq, 1));
      if (seq % 5 === 0) acks.push(ack(seq, 2));
    }
    await s2.journal(acks);
    for (let i = 0; i < 100 && existsSync(join(t.dir, 'journal', named[0])); i++) {
      await s2.flush();
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.ok(!existsSync(join(t.dir, 'journal', named[0])), 'oldest segment compacted away');
    await crashCopy(s2, t.dir, u.dir);
    await s2.close();
    assert.ok(existsSync(join(u.dir, 'journal', named[named.length - 1])), 'the head the snapshot names is still there');
    const crashed = await openState(u.dir, { journalSegmentBytes: SEG });
    assert.equal(crashed.how, 'snapshot');
    rmSync(SNAP(u.dir), { force: true });
    const scanned = await openState(u.dir, { journalSegmentBytes: SEG });
    assert.equal(scanned.how, 'scan');
    assert.deepEqual(crashed.state, scanned.state);
    assert.deepEqual((crashed.state as { paged: Array<{ seq: number }> }).paged.map((m) => m.seq), [2991, 2992, 2993, 2994, 2995, 2996, 2997, 2998, 2999, 3000]);
  });

  it('falls back to a full scan when a deleted segment it names still held live records, or its head or a segment changed', async () => {
    const SEG = 16 * 1024;
    const s = store(t.dir, { journalSegmentBytes: SEG });
    await s.open({ summarize });
    await fill(s);
    await s.close();
    const segs = readdirSync(join(t.dir, 'journal')).filter((f) => f.endsWith('.seg')).sort();
    assert.ok(segs.length >= 3);
    const copy = (): string => {
      rmSync(join(u.dir, 'journal'), { recursive: true, force: true });
      cpSync(join(t.dir, 'journal'), join(u.dir, 'journal'), { recursive: true });
      return join(u.dir, 'journal');
    };
    // An old segment gone while its messages were live (not compacted: lost): the snapshot is refused.
    rmSync(join(copy(), segs[0]));
    const lost = await openState(u.dir, { journalSegmentBytes: SEG });
    assert.equal(lost.how, 'scan');
    assert.deepEqual(lost.warnings, ['journal: index snapshot not usable (live records in deleted segments); scanning every segment']);
    // The head it names gone: refused.
    rmSync(join(copy(), segs[segs.length - 1]));
    assert.equal((await openState(u.dir, { journalSegmentBytes: SEG })).how, 'scan');
    // A segment shorter than it says: refused.
    truncateSync(join(copy(), segs[1]), 10);
    assert.equal((await openState(u.dir, { journalSegmentBytes: SEG })).how, 'scan');
    // A segment with other bytes where it ends: refused.
    const path = join(copy(), segs[1]);
    const bytes = readFileSync(path);
    bytes[bytes.length - 20] ^= 0xff;
    writeFileSync(path, bytes);
    assert.equal((await openState(u.dir, { journalSegmentBytes: SEG })).how, 'scan');
  });
});
