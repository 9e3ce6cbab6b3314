import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { readBatchHeader } from '../../core/stream/batch-header.js';
import { decodeRecords } from '../../core/stream/record-codec.js';
import type { FileStore } from '../../core/storage/file-store.js';
import type { PartitionStore, RetentionPolicy } from '../../core/store.js';
import { appendMany, batchAt, captureLog, offsetsOf, POLICIES, store, tempDir } from './helpers.js';

const SMALL: RetentionPolicy = { retentionMs: -1, retentionBytes: -1, segmentBytes: 8 * 1024 };
const partDir = (dir: string, stream = 'orders', p = 0) => join(dir, 'streams', encodeURIComponent(stream), String(p));
const logs = (dir: string, stream = 'orders') => readdirSync(partDir(dir, stream)).filter((f) => f.endsWith('.log')).sort();
/** The active segment's file; its clean-close checkpoint is removed, as a crash would leave none. */
function crashedActiveSegment(dir: string): string {
  const file = join(partDir(dir), logs(dir).at(-1)!);
  rmSync(file.replace(/\.log$/, '.index'), { force: true });
  return file;
}

describe('storage/partition log', () => {
  let t: ReturnType<typeof tempDir>;
  let s: FileStore;
  beforeEach(async () => {
    t = tempDir('partition');
    s = store(t.dir);
    await s.open();
  });
  afterEach(async () => {
    await s.close().catch(() => undefined);
    t.remove();
  });

  async function reopenPartition(policy = SMALL, options = {}): Promise<PartitionStore> {
    await s.close();
    s = store(t.dir, options);
    await s.open();
    return s.openPartition('orders', 0, policy);
  }

  it('appends, rolls segments, and reads whole batches from the one holding the offset', async () => {
    const p = await s.openPartition('orders', 0, SMALL);
    assert.deepEqual([p.logStartOffset, p.nextOffset, p.sizeBytes], [0, 0, 0]);
    await appendMany(p, 100, 5, { size: 40 }); // ~30 KB: several 8 KiB segments
    assert.equal(p.nextOffset, 500);
    assert.ok(logs(t.dir).length >= 3, `segments: ${logs(t.dir).length}`);
    assert.deepEqual(offsetsOf(await p.read(0, 1)), [0], 'at least one batch even if larger than maxBytes');
    assert.deepEqual(offsetsOf(await p.read(237, 1)), [235], 'the batch holding the offset');
    const some = await p.read(100, 1500);
    assert.ok(some.length > 1 && some.reduce((n, b) => n + b.length, 0) <= 1500);
    assert.deepEqual(offsetsOf(some), some.map((_, i) => 100 + 5 * i));
    assert.deepEqual(await p.read(500, 1 << 20), []);
    const sum = readdirSync(partDir(t.dir)).filter((f) => f.endsWith('.log')).reduce((n, f) => n + statSync(join(partDir(t.dir), f)).size, 0);
    assert.equal(p.sizeBytes, sum);
    const records = await decodeRecords((await p.read(499, 100))[0]);
    assert.equal(records.at(-1)!.offset, 499);
    assert.ok(records.at(-1)!.value!.toString().startsWith('v499:'));
  });

  it('serves every offset after reopen, from sealed segments through their saved indexes', async () => {
    let p = await s.openPartition('orders', 0, SMALL);
    await appendMany(p, 200, 3, { size: 30 });
    const before = [p.logStartOffset, p.nextOffset, p.sizeBytes];
    assert.ok(readdirSync(partDir(t.dir)).some((f) => f.endsWith('.index')), 'sealed segments persist an index');
    p = await reopenPartition();
    assert.deepEqual([p.logStartOffset, p.nextOffset, p.sizeBytes], before);
    for (let o = 0; o < 600; o += 7) {
      const [b] = await p.read(o, 1);
      const h = readBatchHeader(b);
      assert.ok(h.baseOffset <= o && o <= h.baseOffset + h.lastOffsetDelta, `offset ${o}`);
    }
    await appendMany(p, 1, 1);
    assert.equal(p.nextOffset, 601);
  });

  it('rebuilds a missing or damaged index file from the segment', async () => {
    let p = await s.openPartition('orders', 0, SMALL);
    await appendMany(p, 100, 4, { size: 30, timestamp: 1000 });
    const indexes = readdirSync(partDir(t.dir)).filter((f) => f.endsWith('.index'));
    rmSync(join(partDir(t.dir), indexes[0]));
    const damaged = join(partDir(t.dir), indexes[1]);
    const buf = readFileSync(damaged);
    buf[buf.length - 10] ^= 1;
    writeFileSync(damaged, buf);
    p = await reopenPartition();
    assert.equal(p.nextOffset, 400);
    for (let o = 0; o < 400; o += 13) assert.ok(readBatchHeader((await p.read(o, 1))[0]).baseOffset <= o);
    assert.equal(await p.offsetForTimestamp(1000 + 2), 2);
    assert.ok(existsSync(join(partDir(t.dir), indexes[0])), 'index rewritten');
  });

  it('finds the first record at or after a timestamp, across segments, and null past the newest', async () => {
    const p = await s.openPartition('orders', 0, SMALL);
    // Batch i holds 10 records stamped 10_000 + 100 * i + j.
    for (let i = 0; i < 60; i++) await appendMany(p, 1, 10, { size: 30, timestamp: 10_000 + 100 * i });
    assert.equal(await p.offsetForTimestamp(0), 0);
    assert.equal(await p.offsetForTimestamp(10_000 + 100 * 17 + 4), 174);
    assert.equal(await p.offsetForTimestamp(10_000 + 100 * 17 + 50), 180);
    assert.equal(await p.offsetForTimestamp(10_000 + 100 * 59 + 9), 599);
    assert.equal(await p.offsetForTimestamp(10_000 + 100 * 59 + 10), null);
    const p2 = await reopenPartition();
    assert.equal(await p2.offsetForTimestamp(10_000 + 100 * 33 + 3), 333);
  });

  it('applies retention by size and by time, never deleting the active segment', async () => {
    const p = await s.openPartition('orders', 0, SMALL);
    const now = 2_000_000_000_000;
    for (let i = 0; i < 80; i++) await appendMany(p, 1, 5, { size: 60, timestamp: now - 14 * 3_600_000 + i * 600_000 });
    const segments = logs(t.dir).length;
    assert.ok(segments >= 4);
    await p.applyRetention({ ...SMALL, retentionMs: -1, retentionBytes: -1 }, now);
    assert.equal(logs(t.dir).length, segments);

    const size = p.sizeBytes;
    await p.applyRetention({ ...SMALL, retentionBytes: size - 1 }, now);
    assert.equal(logs(t.dir).length, segments - 1);
    assert.ok(p.logStartOffset > 0);
    assert.equal(Number(logs(t.dir)[0].slice(0, 20)), p.logStartOffset);
    assert.deepEqual(offsetsOf(await p.read(0, 1)), [p.logStartOffset], 'reads below the log start begin at it');

    // Time: batches span now-14h .. now-14h+79*10min; keep 2 hours.
    const beforeTime = logs(t.dir).length;
    await p.applyRetention({ ...SMALL, retentionMs: 2 * 3_600_000 }, now);
    assert.ok(logs(t.dir).length < beforeTime);
    const start = p.logStartOffset;
    const firstKept = readBatchHeader((await p.read(start, 1))[0]);
    const cutoff = now - 2 * 3_600_000;
    assert.ok(firstKept.maxTimestamp < cutoff, 'the first kept segment starts before the cutoff (its newest batch is not older)');
    const atCutoff = await p.offsetForTimestamp(cutoff);
    assert.ok(atCutoff !== null && atCutoff > start, 'everything newer than the cutoff is kept');
    const oldestKept = readBatchHeader((await p.read(start, 1))[0]);
    assert.ok(logs(t.dir).length >= 1);
    const reopened = await reopenPartition();
    assert.equal(reopened.logStartOffset, start);
    assert.equal(reopened.nextOffset, 400);
    assert.equal(readBatchHeader((await reopened.read(0, 1))[0]).baseOffset, oldestKept.baseOffset);

    await reopened.applyRetention({ ...SMALL, retentionBytes: 0 }, now);
    assert.equal(logs(t.dir).length, 1, 'the active segment always stays');
    assert.equal(reopened.nextOffset, 400);
  });

  it('truncates a torn tail of the active segment and continues at the right offset', async () => {
    let p = await s.openPartition('orders', 0, SMALL);
    await appendMany(p, 10, 3, { size: 30 });
    await s.close();
    const file = crashedActiveSegment(t.dir);
    const size = statSync(file).size;
    truncateSync(file, size - 20);
    const log = captureLog();
    p = await reopenPartition(SMALL, { logger: log.logger });
    assert.equal(p.nextOffset, 27);
    assert.equal(log.warnings.length, 1);
    assert.equal(statSync(file).size, p.sizeBytes);
    await appendMany(p, 1, 3);
    assert.deepEqual(offsetsOf(await p.read(27, 1)), [27]);
  });

  it('truncates a corrupt (bad CRC) batch at the tail of the active segment', async () => {
    let p = await s.openPartition('orders', 0, SMALL);
    await appendMany(p, 5, 2, { size: 30 });
    await s.close();
    const file = crashedActiveSegment(t.dir);
    const buf = readFileSync(file);
    buf[buf.length - 5] ^= 0x55;
    writeFileSync(file, buf);
    p = await reopenPartition();
    assert.equal(p.nextOffset, 8);
    assert.deepEqual(offsetsOf(await p.read(0, 1 << 20)), [0, 2, 4, 6]);
  });

  it('after a crash, validates only the bytes past the last clean-close checkpoint', async () => {
    let p = await s.openPartition('orders', 0, SMALL);
    await appendMany(p, 5, 2, { size: 30, producerId: 3n });
    await s.close(); // checkpoint covers offsets 0..9
    const checkpointFile = join(partDir(t.dir), logs(t.dir).at(-1)!.replace('.log', '.index'));
    const checkpoint = readFileSync(checkpointFile);
    p = await reopenPartition();
    await appendMany(p, 5, 2, { size: 30, producerId: 3n });
    await s.close();
    writeFileSync(checkpointFile, checkpoint); // as if the process died after these appends
    const file = join(partDir(t.dir), logs(t.dir).at(-1)!);
    const buf = readFileSync(file);
    buf[buf.length - 5] ^= 0x55; // the last batch (offsets 18..19) is corrupt
    writeFileSync(file, buf);
    const log = captureLog();
    p = await reopenPartition(SMALL, { logger: log.logger });
    assert.equal(p.nextOffset, 18);
    assert.equal(log.warnings.length, 1);
    assert.deepEqual(p.recentBatches().map((b) => b.baseOffset), [0, 2, 4, 6, 8, 10, 12, 14, 16]);
    assert.deepEqual(offsetsOf(await p.read(0, 1 << 20)), [0, 2, 4, 6, 8, 10, 12, 14, 16]);
  });

  it('group-commits appends made in the same tick into one write', async () => {
    const p = await s.openPartition('orders', 0, { ...SMALL, segmentBytes: 1 << 20 });
    await appendMany(p, 1, 1); // the segment file is open
    const probe = await open(join(t.dir, 'probe'), 'w');
    const proto = Object.getPrototypeOf(probe) as { writev: (...a: unknown[]) => Promise<unknown> };
    await probe.close();
    const { writev } = proto;
    let writes = 0;
    proto.writev = function (this: unknown, ...a: unknown[]) { writes++; return writev.apply(this, a); };
    try {
      await appendMany(p, 500, 2, { size: 20 });
    } finally {
      proto.writev = writev;
    }
    assert.equal(writes, 1, `500 appends took ${writes} writes`);
    assert.equal(p.nextOffset, 1001);
  });

  it('serves reads while appends are still in flight, and refuses an append at the wrong offset', async () => {
    const p = await s.openPartition('orders', 0, SMALL);
    const waits: Promise<void>[] = [];
    for (let i = 0; i < 50; i++) {
      const { batch, info } = batchAt(p.nextOffset, 2, { size: 100 });
      waits.push(p.append(batch, info));
    }
    assert.equal(p.nextOffset, 100);
    assert.deepEqual(offsetsOf(await p.read(96, 1 << 20)), [96, 98]);
    assert.equal(await p.offsetForTimestamp(1_700_000_000_001), 1);
    const stale = batchAt(40, 1);
    await assert.rejects(p.append(stale.batch, stale.info), RangeError);
    await Promise.all(waits);
    assert.equal(s.pendingBytes, 0);
    for (let o = 0; o < 100; o += 9) assert.ok(readBatchHeader((await p.read(o, 1))[0]).baseOffset <= o);
  });

  it('rebuilds idempotent-producer state: recentBatches lists the active segment\'s producer batches', async () => {
    let p = await s.openPartition('orders', 0, { ...SMALL, segmentBytes: 1 << 20 });
    await appendMany(p, 3, 2, { producerId: 7n });
    await appendMany(p, 1, 2);
    await appendMany(p, 1, 2, { producerId: 9n });
    const expected = p.recentBatches();
    assert.deepEqual(expected.map((b) => [b.baseOffset, b.lastOffset, b.producerId, b.baseSequence]),
      [[0, 1, 7n, 0], [2, 3, 7n, 2], [4, 5, 7n, 4], [8, 9, 9n, 8]]);
    p = await reopenPartition({ ...SMALL, segmentBytes: 1 << 20 });
    assert.deepEqual(p.recentBatches(), expected);
  });

  it('lists streams on open and deletes a stream with its directory', async () => {
    for (const [name, parts] of [['orders', 3], ['a/b c', 1], ['..', 2]] as const) {
      for (let i = 0; i < parts; i++) await appendMany(await s.openPartition(name, i, SMALL), 1, 1);
    }
    assert.ok(!existsSync(join(t.dir, '..', '0')), 'a dotted name stays inside streams/');
    await s.close();
    s = store(t.dir);
    const r = await s.open();
    assert.deepEqual([...r.streams].sort(), [['..', 2], ['a/b c', 1], ['orders', 3]]);
    const p = await s.openPartition('a/b c', 0, SMALL);
    assert.equal(p.nextOffset, 1);
    await s.deleteStream('orders');
    assert.ok(!existsSync(join(t.dir, 'streams', 'orders')));
    await assert.rejects(p.read(0, 1).then(() => s.deleteStream('a/b c')).then(() => p.read(0, 1)));
    await s.close();
    s = store(t.dir);
    assert.deepEqual([...(await s.open()).streams], [['..', 2]]);
  });

  for (const fsync of POLICIES) {
    it(`keeps appended batches across close and reopen (fsync ${fsync})`, async () => {
      await s.close();
      s = store(t.dir, { fsync });
      await s.open();
      let p = await s.openPartition('orders', 0, SMALL);
      await appendMany(p, 40, 4, { size: 50 });
      await s.flush();
      p = await reopenPartition(SMALL, { fsync });
      assert.equal(p.nextOffset, 160);
      assert.deepEqual(offsetsOf(await p.read(0, 1 << 20)).slice(0, 3), [0, 4, 8]);
    });
  }
});
