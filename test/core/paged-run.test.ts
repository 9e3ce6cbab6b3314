/**
 * core/paged-run.ts: a frozen run (bit-packed, core/frozen-columns.ts) gives exactly the entries
 * an open one gives, in the same order, under shift / remove / entryAt / entriesFrom, with long
 * sizes, expiries and holes, checked against a plain array (seeded random operations); a deep
 * queue's runs (core/ready-entries.ts) freeze as they complete and cost well under a byte a message.
 */
import assert from 'node:assert/strict';
import { PagedRun } from '../../core/paged-run.js';
import type { QueueEntry } from '../../core/queue-types.js';
import { ReadyEntries } from '../../core/ready-entries.js';

/** A seeded generator, so that a failure repeats. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

interface Item { seq: number; size: number; expiry: number | undefined }
const LONG_SIZES = [65_533, 65_534, 65_535, 65_536, 1_000_000, 2 ** 32 - 1];
const NOW = 1_790_000_000_000;

/** Entries of one shape: seqs close or spread, sizes steady or not, expiries none, rising, spread past 2^32 ms or fractional. */
function items(r: () => number, count: number): Item[] {
  const gap = [() => 1, () => 1 + Math.floor(r() * 5), () => 1 + Math.floor(r() * 20_000)][Math.floor(r() * 3)];
  const expiryShape = Math.floor(r() * 5);
  const out: Item[] = [];
  let seq = 1 + Math.floor(r() * 2 ** 40);
  for (let i = 0; i < count; i++) {
    seq += gap();
    const size = r() < 0.03 ? LONG_SIZES[Math.floor(r() * LONG_SIZES.length)] : r() < 0.5 ? 160 : Math.floor(r() * 300);
    let expiry: number | undefined;
    if (expiryShape > 0 && r() < 0.7) {
      expiry = [0, NOW + i * 3, NOW + Math.floor(r() * 2 ** 34), NOW + i + 0.5, NOW][expiryShape];
    }
    out.push({ seq, size, expiry });
  }
  return out;
}

const view = (e: QueueEntry | undefined) => e && { seq: e.seq, size: e.size, expiry: e.expiry, priority: e.priority };
const itemView = (e: Item | undefined) => e && { seq: e.seq, size: e.size, expiry: e.expiry, priority: 7 };

/** Random operations on a run that freezes at `freezeAt` (-1: never), against an array. */
function exercise(seed: number, freezeAt: number): void {
  const r = random(seed);
  const all = items(r, 1 + Math.floor(r() * 3000));
  const run = new PagedRun(all[0].seq, 7, r() < 0.5 ? all.length : undefined);
  const model: Item[] = [];
  for (const it of all) {
    if (!run.accepts(it.seq, 7)) break;
    run.add(it.seq, it.size, it.expiry);
    model.push(it);
  }
  assert.ok(model.length > 0);
  const added = model.slice();
  const ops = 400;
  for (let op = 0; op < ops; op++) {
    if (op === freezeAt) {
      run.freeze();
      assert.equal(run.accepts(added[added.length - 1].seq + 1, 7), false, 'a frozen run takes no more');
      run.trim();
    }
    const what = r();
    const where = `seed ${seed}, op ${op}, frozen ${run.isFrozen}`;
    if (what < 0.2) assert.deepEqual(view(run.shift()), itemView(model.shift()), where);
    else if (what < 0.5) {
      // A seq in the run, taken already, or never in it.
      const seq = r() < 0.8 ? added[Math.floor(r() * added.length)].seq : added[0].seq + Math.floor(r() * 1e6) - 10;
      const k = model.findIndex((e) => e.seq === seq);
      assert.deepEqual(view(run.remove(seq)), k < 0 ? undefined : itemView(model.splice(k, 1)[0]), where);
    } else if (what < 0.75) {
      const k = Math.floor(r() * (model.length + 2)) - 1;
      assert.deepEqual(view(run.entryAt(k)), itemView(model[k]), where);
    } else {
      const k = Math.floor(r() * (model.length + 1));
      const max = Math.floor(r() * 50);
      const out: QueueEntry[] = [];
      run.entriesFrom(k, max, out);
      assert.deepEqual(out.map(view), model.slice(k, k + max).map(itemView), where);
    }
    assert.equal(run.length, model.length, where);
  }
  const out: QueueEntry[] = [];
  run.entriesFrom(0, Infinity, out);
  assert.deepEqual(out.map(view), model.map(itemView));
  while (model.length > 0) assert.deepEqual(view(run.shift()), itemView(model.shift()));
  assert.equal(run.shift(), undefined);
}

describe('core/paged-run: frozen runs', () => {
  it('give the same entries as open ones and as a plain array, frozen before, during or after removals', () => {
    for (let seed = 1; seed <= 60; seed++) {
      for (const freezeAt of [-1, 0, 1 + (seed * 37) % 300]) exercise(seed * 1000 + freezeAt, freezeAt);
    }
  });

  it('keep long sizes, expiries (packed, fractional, spread past 2^32 ms) and holes exactly at the edges', () => {
    const run = new PagedRun(10, undefined);
    const sizes = [0, 65_533, 65_534, 65_535, 2 ** 32 - 1, 7];
    const expiries = [undefined, NOW, NOW + 2 ** 33, undefined, NOW + 0.25, NOW - 5];
    for (let i = 0; i < 6; i++) run.add(10 + i * 2, sizes[i], expiries[i]);
    assert.equal(run.remove(14)?.size, 65_534);
    run.freeze();
    assert.deepEqual([run.remove(14), run.remove(11), run.remove(9)], [undefined, undefined, undefined]);
    const out: QueueEntry[] = [];
    run.entriesFrom(0, 10, out);
    assert.deepEqual(out.map((e) => [e.seq, e.size, e.expiry]), [0, 1, 3, 4, 5].map((i) => [10 + i * 2, sizes[i], expiries[i]]));
    assert.equal(run.remove(18)?.expiry, NOW + 0.25);
    assert.equal(run.shift()?.seq, 10);
    assert.equal(run.remove(12)?.size, 65_533);
    assert.deepEqual([run.shift()?.seq, run.shift()?.expiry, run.shift(), run.length], [16, NOW - 5, undefined, 0]);
  });

  it('settle: a complete run of 512 entries or more freezes; a smaller one is trimmed and may still take entries', () => {
    const small = new PagedRun(1, 4, 65536);
    for (let s = 1; s <= 511; s++) small.add(s, 100, undefined);
    small.settle();
    assert.equal(small.isFrozen, false);
    assert.ok(small.byteLength <= 511 * 4, `${small.byteLength} bytes after the trim`);
    assert.equal(small.accepts(512, 4), true);
    small.add(512, 100, undefined);
    small.settle();
    assert.equal(small.isFrozen, true);
    assert.deepEqual([small.accepts(513, 4), small.length, small.entryAt(511)?.seq], [false, 512, 512]);
  });
});

const levelOf = (p: number | undefined) => (p === undefined ? 4 : p);
const triple = (e: { seq: number; size: number; expiry?: number }) => [e.seq, e.size, e.expiry];

/** Random pushes (paged, or objects packed by pack()), shifts, removals and looks, against per-level arrays. */
function exerciseQueue(seed: number): void {
  const r = random(seed);
  const byPriority = r() < 0.5;
  const byObjects = r() < 0.5;
  const q = new ReadyEntries(byPriority);
  // Each level's entries from `head` on (no Array.shift: it is O(n) on long arrays).
  const levels = Array.from({ length: 10 }, () => ({ items: [] as Item[], head: 0 }));
  let count = 0;
  const order = () => (byPriority ? levels.slice().reverse() : levels).flatMap((l) => l.items.slice(l.head));
  /** order().slice(from, from + n) without the copy of everything. */
  const slice = (from: number, n: number) => {
    const out: Item[] = [];
    for (const l of byPriority ? levels.slice().reverse() : levels) {
      const len = l.items.length - l.head;
      if (from >= len) from -= len;
      else {
        out.push(...l.items.slice(l.head + from, l.head + from + n - out.length));
        from = 0;
      }
      if (out.length === n) break;
    }
    return out;
  };
  const shiftModel = () => {
    for (let i = 9; i >= 0; i--) if (levels[i].head < levels[i].items.length) return levels[i].items[levels[i].head++];
    return undefined;
  };
  let seq = 1;
  for (let op = 0; op < 1200; op++) {
    const what = r();
    const where = `seed ${seed}, op ${op}`;
    if (what < 0.7) {
      // Now and then a burst that fills a run, else a short one; seqs mostly in a row, now and then
      // 2^32 on (a new run).
      const burst = r() < 0.004 ? 70_000 : Math.floor(r() * 200);
      const priority = r() < 0.7 ? undefined : Math.floor(r() * 10);
      for (let i = 0; i < burst; i++) {
        seq += r() < 0.001 ? 2 ** 32 : 1 + (r() < 0.1 ? Math.floor(r() * 30) : 0);
        const size = r() < 0.01 ? 100_000 : 150 + Math.floor(r() * 4);
        const expiry = r() < 0.05 ? NOW + seq : undefined;
        if (byObjects) {
          q.push({ seq, message: undefined, priority, expiry, pageable: true, deliveryCount: 0, redelivered: false, persisted: true, size });
          if (i % 4096 === 4095) q.pack();
        } else q.pushPaged(seq, size, priority, expiry);
        levels[byPriority ? levelOf(priority) : 0].items.push({ seq, size, expiry });
        count++;
      }
      if (byObjects) q.pack();
    } else if (what < 0.8) {
      const n = Math.floor(r() * 300);
      for (let i = 0; i < n; i++) {
        const m = shiftModel();
        if (m) count--;
        assert.deepEqual(triple(q.shift() ?? { seq: 0, size: 0 }), triple(m ?? { seq: 0, size: 0 }), where);
      }
    } else if (what < 0.9) {
      const level = levels[Math.floor(r() * 10)];
      if (level.head === level.items.length) continue;
      const [pick] = level.items.splice(level.head + Math.floor(r() * (level.items.length - level.head)), 1);
      count--;
      assert.deepEqual(triple(q.removeSeq(pick.seq)!), triple(pick), where);
      assert.equal(q.removeSeq(pick.seq), undefined, where);
    } else {
      const from = Math.floor(r() * (count + 1));
      assert.deepEqual(q.slice(from, 20).map(triple), slice(from, 20).map(triple), where);
    }
    assert.equal(q.length, count, where);
  }
  const all = order();
  const copies = q.toArray();
  for (let i = 0; i < all.length; i++) assert.deepEqual(triple(copies[i]), triple(all[i]), `seed ${seed}, entry ${i}`);
  for (const e of all) assert.equal(q.shift()?.seq, e.seq);
  assert.equal(q.length, 0);
}

describe('core/ready-entries: runs freeze when complete', () => {
  it('keeps delivery order, removals and looks exact while runs freeze (recovery and pack paths, random)', () => {
    // Counts the runs frozen (the real freeze runs).
    const freeze = PagedRun.prototype.freeze;
    let frozen = 0;
    PagedRun.prototype.freeze = function (this: PagedRun) {
      if (!this.isFrozen && this.length > 0) frozen++;
      freeze.call(this);
    };
    try {
      for (let seed = 1; seed <= 12; seed++) exerciseQueue(seed);
    } finally {
      PagedRun.prototype.freeze = freeze;
    }
    assert.ok(frozen >= 200, `${frozen} runs frozen`);
  });

  it('holds a deep queue filled in a row in under 0.5 byte a message, recovered or packed', () => {
    const n = 1_000_000;
    const recovered = new ReadyEntries(true);
    recovered.expectPaged(n);
    for (let s = 1; s <= n; s++) recovered.pushPaged(s, 160, undefined, undefined);
    recovered.trimPaged();
    const packed = new ReadyEntries(true);
    for (let s = 1; s <= n; s++) {
      packed.push({ seq: s, message: undefined, priority: undefined, pageable: true, deliveryCount: 0, redelivered: false, persisted: true, size: 160 });
      if (s % 4096 === 0) packed.pack();
    }
    packed.pack();
    // Ten queues filled in turn: a queue's seqs rise by ten (one run, u32 offsets, until it is full).
    const spread = new ReadyEntries(false);
    for (let s = 1; s <= n; s++) spread.pushPaged(s * 10, 160, undefined, undefined);
    for (const q of [recovered, packed, spread]) {
      assert.equal(q.packed, n);
      assert.ok(q.packedBytes / n < 0.5, `${q.packedBytes / n} bytes a message`);
      const k = q === spread ? 10 : 1;
      assert.deepEqual(q.slice(654_321, 3).map((e) => e.seq), [654_322, 654_323, 654_324].map((s) => s * k));
      assert.equal(q.removeSeq(500_000 * k)?.seq, 500_000 * k);
      assert.equal(q.at(499_999)?.seq, 500_001 * k);
      assert.equal(q.shift()?.seq, k);
    }
  });

  it('freezes the runs of many recovered queues once recovery is done', () => {
    const queues = Array.from({ length: 200 }, () => new ReadyEntries(true));
    for (const q of queues) q.expectPaged(5000);
    for (let s = 0; s < 200 * 5000; s++) queues[s % 200].pushPaged(s, 160, 4, undefined);
    for (const q of queues) q.trimPaged();
    const bytes = queues.reduce((sum, q) => sum + q.packedBytes, 0);
    assert.ok(bytes / (200 * 5000) < 0.5, `${bytes / (200 * 5000)} bytes a message`);
    assert.deepEqual(queues[7].slice(4998, 3).map((e) => e.seq), [4998 * 200 + 7, 4999 * 200 + 7]);
  });
});
