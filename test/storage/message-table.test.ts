/**
 * core/storage/message-table.ts against a plain model: every operation, on plain and frozen
 * (bit-packed) chunks alike, including chunks thawed by a compaction copy, a late insert or
 * removals, and snapshots encoded and read back at any point.
 */
import assert from 'node:assert/strict';
import { MessageTable } from '../../core/storage/message-table.js';
import { SnapshotReader, SnapshotWriter } from '../../core/storage/snapshot-codec.js';
import type { MessageSummary } from '../../core/store.js';

interface Row {
  seg: number;
  at: number;
  len: number;
  queues: number[];
  summary: MessageSummary;
}

/** A seeded generator, so that a failure repeats. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function roundTrip(t: MessageTable): MessageTable {
  const w = new SnapshotWriter();
  const capture = t.capture();
  for (const _ of MessageTable.encode(capture, w)) { /* all at once */ }
  t.release(capture);
  const copy = new MessageTable();
  copy.readFrom(new SnapshotReader(Buffer.concat(w.take())));
  return copy;
}

function check(t: MessageTable, model: Map<number, Row>, probe: number[]): void {
  assert.equal(t.size, model.size);
  const seqs = [...model.keys()].sort((a, b) => a - b);
  const entries = [...t.entries()];
  assert.deepEqual(entries.map((e) => e.seq), seqs);
  // Compared as text: a deepEqual per message is slow at this count.
  const text = (r: Row) => JSON.stringify([r.seg, r.at, r.len, r.queues, r.summary.size, r.summary.priority, r.summary.expiry]);
  for (const e of entries) {
    const m = model.get(e.seq)!;
    if (text(e) !== text(m)) assert.deepEqual({ seg: e.seg, at: e.at, len: e.len, queues: e.queues, summary: e.summary }, m, `seq ${e.seq}`);
  }
  const walked: string[] = [];
  t.forEach((seq, queue) => walked.push(`${seq}:${queue}`));
  assert.equal(walked.join(' '), seqs.flatMap((s) => model.get(s)!.queues.map((q) => `${s}:${q}`)).join(' '));
  for (const seq of probe) {
    const m = model.get(seq);
    assert.equal(t.has(seq), m !== undefined, `has ${seq}`);
    assert.deepEqual(t.location(seq), m && { seg: m.seg, at: m.at, len: m.len }, `location ${seq}`);
    assert.deepEqual(t.queues(seq), m?.queues, `queues ${seq}`);
    if (m) {
      assert.ok(t.isAt(seq, m.seg, m.at));
      for (const q of m.queues) assert.ok(t.inQueue(seq, q));
    }
  }
}

describe('storage/message table', () => {
  it('agrees with a model under random operations over frozen and plain chunks, snapshots included', () => {
    const r = random(7);
    const t = new MessageTable();
    const model = new Map<number, Row>();
    let next = 1;
    let at = 0;
    const add = (seq: number) => {
      const queues = r() < 0.05 ? [1, 2, 3].slice(0, 2 + Math.floor(r() * 2)) : [r() < 0.9 ? 1 : 2 + Math.floor(r() * 70_000)];
      const len = r() < 0.01 ? 70_000 + Math.floor(r() * 1000) : 100 + Math.floor(r() * 3);
      const summary: MessageSummary = { size: r() < 0.01 ? 66_000 : 160 };
      if (r() < 0.1) summary.priority = Math.floor(r() * 10);
      if (r() < 0.05) summary.expiry = 1_800_000_000_000 + Math.floor(r() * 1e6);
      const row = { seg: Math.floor(seq / 20_000), at: (at += len + 24), len, queues, summary };
      assert.equal(t.set(seq, row.seg, row.at, row.len, row.queues, summary), -1);
      model.set(seq, row);
    };
    const removeSome = (fraction: number, below: number) => {
      for (const [seq, row] of model) {
        if (seq >= below || r() >= fraction) continue;
        const q = row.queues[Math.floor(r() * row.queues.length)];
        const gone = t.removeQueue(seq, q);
        assert.notEqual(gone, -1);
        row.queues = row.queues.filter((x) => x !== q);
        if (row.queues.length === 0) model.delete(seq);
      }
    };
    // Four chunks' worth in a row: the older ones freeze.
    for (; next <= 4 * 65536; next++) add(next);
    // Three of the five chunks frozen (the newest two stay plain): less than plain columns' 15 bytes even for this mixed load.
    assert.ok(t.columnBytes / t.size < 12, `${t.columnBytes / t.size} bytes a message`);
    check(t, model, [1, 2, 65535, 65536, 65537, 200_000, 4 * 65536, 4 * 65536 + 1]);
    // Removals in frozen chunks (a bit each), some chunks past half dead (thawed).
    removeSome(0.3, 3 * 65536);
    removeSome(0.6, 65536);
    check(t, model, Array.from({ length: 2000 }, () => 1 + Math.floor(r() * next)));
    // Compaction copies into frozen chunks (thaw), late inserts into old chunks, removeAll.
    for (const seq of [...model.keys()].filter(() => r() < 0.02)) {
      const row = model.get(seq)!;
      row.seg = 99;
      row.at = Math.floor(r() * 1e9);
      assert.ok(t.set(seq, row.seg, row.at, row.len, row.queues, undefined) > 0);
    }
    for (let k = 0; k < 200; k++) {
      const seq = 1 + Math.floor(r() * 3 * 65536);
      if (!model.has(seq) && !t.has(seq)) add(seq);
    }
    for (const seq of [...model.keys()].filter(() => r() < 0.01)) {
      assert.ok(t.removeAll(seq) > 0);
      model.delete(seq);
    }
    check(t, model, Array.from({ length: 2000 }, () => 1 + Math.floor(r() * next)));
    // A snapshot of it reads back the same, and the copy keeps working (it freezes as it reads).
    const copy = roundTrip(t);
    check(copy, model, Array.from({ length: 500 }, () => 1 + Math.floor(r() * next)));
    // More in a row, then everything but a few taken out: chunks emptied and dropped.
    for (const x of [t, copy]) {
      const m2 = new Map([...model].map(([k, v]) => [k, { ...v, queues: [...v.queues] }]));
      const keep = [...m2.keys()].filter((_, i) => i % 1000 === 0);
      const kept = new Set(keep);
      for (const [seq, row] of m2) {
        if (kept.has(seq)) continue;
        for (const q of row.queues) x.removeQueue(seq, q);
        m2.delete(seq);
      }
      check(x, m2, keep);
      check(roundTrip(x), m2, keep);
    }
  });

  it('reads a version 2 snapshot (every chunk plain, no kind byte)', () => {
    const w = new SnapshotWriter();
    w.u32(1); // chunks
    w.f64(0); // key
    w.u32(2); // messages
    w.u8(2); // queue column width
    w.u32(1); // segments
    w.f64(7);
    w.column(Uint16Array.of(5, 9), 2); // off
    w.column(Uint16Array.of(0, 0), 2); // segment index
    w.column(Uint32Array.of(100, 300), 2); // at
    w.column(Uint16Array.of(150, 150), 2); // len
    w.column(Uint16Array.of(2 + 3, 2 + 4), 2); // queue id + 2
    w.column(Uint16Array.of(160, 170), 2); // size
    w.column(Uint8Array.of(255, 9), 2); // priority (255: none)
    for (let k = 0; k < 4; k++) w.u32(0); // fan-outs, expiries, long lengths, long sizes
    const t = new MessageTable();
    t.readFrom(new SnapshotReader(Buffer.concat(w.take())), 2);
    check(t, new Map([
      [5, { seg: 7, at: 100, len: 150, queues: [3], summary: { size: 160 } }],
      [9, { seg: 7, at: 300, len: 150, queues: [4], summary: { size: 170, priority: 9 } }],
    ]), [5, 9, 6]);
  });

  it('costs about a byte a message for a deep queue filled in a row', () => {
    const t = new MessageTable();
    const n = 1_000_000;
    for (let seq = 1; seq <= n; seq++) t.set(seq, Math.floor(seq / 400_000), (seq % 400_000) * 174, 150, [3], { size: 160 });
    const perMessage = t.columnBytes / n;
    // Two newest chunks plain (15 bytes a message each, over 1 M: about 2 a message), the rest packed.
    assert.ok(perMessage < 2.5, `${perMessage} bytes a message`);
    assert.deepEqual(t.location(777_777), { seg: 1, at: 377_777 * 174, len: 150 });
  });
});
