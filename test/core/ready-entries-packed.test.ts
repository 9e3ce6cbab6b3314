/**
 * ReadyEntries with packed runs (core/paged-run.ts): paged entries held in typed arrays keep
 * delivery order (priority, then FIFO) with objects around them; they become the queue's own
 * objects at the head (read-ahead) and copies when looked at; removal by seq, drop-head, expiry.
 */
import assert from 'node:assert/strict';
import type { QueueEntry } from '../../core/queue-types.js';
import { ReadyEntries } from '../../core/ready-entries.js';

const paged = (seq: number, priority?: number, expiry?: number): QueueEntry => ({
  seq, message: undefined, priority, expiry, pageable: true, deliveryCount: 0, redelivered: false, persisted: true, size: 100 + (seq % 7),
});
const seqs = (entries: QueueEntry[]) => entries.map((e) => e.seq);

describe('core/ready-entries: packed paged runs', () => {
  it('packs paged objects after the newest, keeps order with objects and runs mixed, and unpacks at the head', () => {
    const r = new ReadyEntries(true);
    for (let s = 1; s <= 100; s++) r.push(paged(s, s % 2 === 0 ? 9 : undefined));
    const delivered: QueueEntry = { ...paged(101), redelivered: true, deliveryCount: 1 }; // cannot be packed
    r.push(delivered);
    for (let s = 102; s <= 200; s++) r.push(paged(s, s % 2 === 0 ? 9 : 4)); // 4 and none share runs
    r.pack();
    assert.equal(r.length, 200);
    assert.equal(r.packed, 199, 'all but the redelivered one');
    const order = [...Array.from({ length: 200 }, (_, i) => i + 1).filter((s) => s % 2 === 0), ...Array.from({ length: 200 }, (_, i) => i + 1).filter((s) => s % 2 === 1)];
    assert.deepEqual(seqs(r.toArray()), order);
    assert.deepEqual(seqs(r.slice(120, 5)), order.slice(120, 125), 'a slice from inside a run');
    assert.equal(r.at(150)!.seq, order[150]);
    // The read-ahead window is the queue's own objects: the same ones come out of shift().
    const window = r.headWindow(10);
    assert.deepEqual(seqs(window), order.slice(0, 10));
    assert.equal(r.packed, 189);
    for (const e of window) assert.equal(r.shift(), e);
    assert.equal(r.shift()!.seq, order[10]);
    assert.equal(r.length, 189);
    // The redelivered entry kept its object.
    assert.equal(r.removeSeq(101), delivered);
    assert.equal(r.removeSeq(151)!.seq, 151, 'taken out of the middle of a run');
    assert.equal(r.removeSeq(151), undefined);
    const rest = seqs(r.toArray());
    assert.deepEqual(rest, order.slice(11).filter((s) => s !== 101 && s !== 151));
    let n = 0;
    while (r.shift()) n++;
    assert.equal(n, rest.length);
    assert.equal(r.packed, 0);
  });

  it('recovery pushes straight into runs; a queue without priorities keeps one run whatever the priorities', () => {
    const fifo = new ReadyEntries(false);
    for (let s = 1; s <= 70_000; s++) fifo.pushPaged(s * 3, 100, s % 2 === 0 ? 1 : 9, undefined);
    assert.equal(fifo.packed, 70_000);
    assert.deepEqual(seqs(fifo.slice(65_534, 4)), [65_535, 65_536, 65_537, 65_538].map((s) => s * 3), 'across two runs (65,536 a run)');
    assert.equal(fifo.shift()!.seq, 3);

    const byPriority = new ReadyEntries(true);
    for (let s = 1; s <= 30; s++) byPriority.pushPaged(s, 10 * s, s % 3 === 0 ? 9 : 1, s % 5 === 0 ? 1000 + s : undefined);
    // drop-head takes the oldest of the lowest priority; expiry is kept per entry.
    const lowest = byPriority.shiftLowest()!;
    assert.deepEqual([lowest.seq, lowest.size, lowest.expiry], [1, 10, undefined]);
    const expired: number[] = [];
    byPriority.shiftWhile((e) => e.seq <= 15, (e) => expired.push(e.seq));
    assert.deepEqual(expired, [3, 6, 9, 12, 15, 2, 4, 5, 7, 8, 10, 11, 13, 14]);
    assert.deepEqual(byPriority.toArray().map((e) => [e.seq, e.expiry]).slice(0, 6), [[18, undefined], [21, undefined], [24, undefined], [27, undefined], [30, 1030], [16, undefined]]);
    byPriority.clear();
    // Recovery sizes runs from the count it expects, and gives back what it did not use.
    const sized = new ReadyEntries(true);
    sized.expectPaged(1000);
    for (let s = 1; s <= 600; s++) sized.pushPaged(s, 1, s <= 300 ? 9 : 1, undefined);
    sized.trimPaged();
    assert.deepEqual([sized.length, sized.packed, sized.shift()!.seq, sized.slice(299, 2).map((e) => e.seq)], [600, 600, 1, [301, 302]]);
    assert.equal(byPriority.length + byPriority.packed, 0);
  });

  it('keeps sizes of 65,534 bytes and more exactly (u16 column, side map), through slices, removal, drop-head and shifts', () => {
    const sizes = [0, 1, 65_533, 65_534, 65_535, 65_536, 1_000_000, 4_294_967_295];
    const r = new ReadyEntries(true);
    for (let s = 1; s <= 400; s++) r.pushPaged(s, sizes[s % sizes.length], 4, undefined);
    const expected = (seq: number) => sizes[seq % sizes.length];
    assert.deepEqual(r.slice(100, 16).map((e) => e.size), Array.from({ length: 16 }, (_, i) => expected(101 + i)));
    assert.equal(r.removeSeq(205)!.size, expected(205));
    assert.equal(r.removeSeq(205), undefined);
    assert.equal(r.shiftLowest()!.size, expected(1));
    const rest = r.toArray().map((e) => [e.seq, e.size]);
    assert.deepEqual(rest, Array.from({ length: 400 }, (_, i) => i + 1).filter((s) => s !== 1 && s !== 205).map((s) => [s, expected(s)]));
    for (const [seq, size] of rest) assert.deepEqual([r.shift()!.seq, size], [seq, expected(seq)]);
    assert.equal(r.length, 0);
  });

  it('keeps seqs exactly whether close (u16 offsets) or spread (the run widens to u32), and past 2^32 (a new run)', () => {
    const close = Array.from({ length: 3000 }, (_, i) => 1 + i * 50); // 1,310 per 65,536 seqs: the run widens after that
    const spread = Array.from({ length: 3000 }, (_, i) => 200_000 + i * 10_007); // a few per 65,536 seqs
    const far = [2 ** 33, 2 ** 33 + 1, 2 ** 33 + 70_000]; // past 2^32 from the previous run's first: a new run
    const all = [...close, ...spread, ...far];
    const r = new ReadyEntries(false);
    for (const seq of all) r.pushPaged(seq, seq % 1000, 4, undefined);
    assert.deepEqual(r.toArray().map((e) => [e.seq, e.size]), all.map((seq) => [seq, seq % 1000]));
    for (const seq of [close[2000], spread[5], spread[2999], far[2]]) assert.equal(r.removeSeq(seq)!.seq, seq);
    const left = all.filter((seq) => ![close[2000], spread[5], spread[2999], far[2]].includes(seq));
    assert.deepEqual(r.slice(1990, 20).map((e) => e.seq), left.slice(1990, 2010));
    for (const seq of left) assert.equal(r.shift()!.seq, seq);
    assert.equal(r.length, 0);
  });
});
