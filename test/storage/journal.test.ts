import assert from 'node:assert/strict';
import { closeSync, openSync, readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { StoreClosedError } from '../../core/storage/segment-writer.js';
import { ack, reopen, captureLog, del, enqueue, plain, POLICIES, put, store, tempDir } from './helpers.js';

const journalFiles = (dir: string) => readdirSync(join(dir, 'journal')).filter((f) => f.endsWith('.seg')).sort();
const lastSegment = (dir: string) => join(dir, 'journal', journalFiles(dir).at(-1)!);

describe('storage/journal', () => {
  let t: ReturnType<typeof tempDir>;
  beforeEach(() => (t = tempDir('journal')));
  afterEach(() => t.remove());

  for (const fsync of POLICIES) {
    it(`round-trips metadata and messages across reopen (fsync ${fsync})`, async () => {
      const s = store(t.dir, { fsync });
      const empty = await s.open();
      assert.equal(empty.messages.length, 0);
      assert.equal(empty.metadata.size, 0);
      await s.journal([put('queue', 'jobs', '{"id":1}'), put('queue', 'mail', '{"id":2}'), put('session', 'c1', 'x')]);
      await s.journal([enqueue(1, [1, 2]), enqueue(2, [1]), enqueue(3, [2], 'three')]);
      await Promise.all([s.journal([ack(1, 1)]), s.journal([ack(2, 1)]), s.journal([del('session', 'c1'), put('queue', 'jobs', '{"id":1,"v":2}')])]);
      await s.close();

      const again = store(t.dir, { fsync });
      const r = await again.open();
      assert.deepEqual(plain(r.metadata), { queue: { jobs: '{"id":1,"v":2}', mail: '{"id":2}' } });
      assert.deepEqual(r.messages.map((m) => [m.seq, m.queues, m.message.toString()]), [[1, [2], 'm1'], [3, [2], 'three']]);
      assert.deepEqual(r.streams, new Map());
      await again.close();
    });
  }

  it('replays an enqueue of a present seq as a replacement of its queue list, and keeps seq order', async () => {
    const s = store(t.dir);
    await s.open();
    await s.journal([enqueue(10, [1, 2, 3]), enqueue(2 ** 40, [4]), enqueue(5, [1])]);
    await s.journal([enqueue(10, [3]), ack(10, 1), ack(99, 1), enqueue(7, [])]);
    await s.close();
    const r = await reopen(t.dir);
    assert.deepEqual(r.messages.map((m) => [m.seq, m.queues]), [[5, [1]], [10, [3]], [2 ** 40, [4]]]);
  });

  it('writes a group atomically: a group cut anywhere is dropped whole, earlier groups stay', async () => {
    const s = store(t.dir);
    await s.open();
    await s.journal([put('a', 'k1', 'v1'), enqueue(1, [1])]);
    await s.journal([put('a', 'k2', 'v2'), enqueue(2, [1]), ack(1, 1), put('a', 'k3', 'x'.repeat(500))]);
    await s.close();
    const file = lastSegment(t.dir);
    const full = readFileSync(file);
    const firstGroupEnd = 9 + full.readUInt32BE(0);
    for (const cut of [firstGroupEnd + 3, firstGroupEnd + 20, Math.floor((firstGroupEnd + full.length) / 2), full.length - 1]) {
      writeFileSync(file, full.subarray(0, cut));
      const log = captureLog();
      const again = store(t.dir, { logger: log.logger });
      const r = await again.open();
      assert.deepEqual(plain(r.metadata), { a: { k1: 'v1' } }, `cut at ${cut}`);
      assert.deepEqual(r.messages.map((m) => m.seq), [1]);
      assert.equal(log.warnings.length, 1);
      await again.close();
      assert.equal(statSync(file).size, firstGroupEnd, 'torn tail truncated at the record boundary');
    }
  });

  it('recovers from a truncated tail: every acknowledged group kept, appends continue after it', async () => {
    const s = store(t.dir, { fsync: 'always' });
    await s.open();
    for (let i = 0; i < 50; i++) await s.journal([enqueue(i, [1]), put('n', `k${i}`, `v${i}`)]);
    await s.close();
    const file = lastSegment(t.dir);
    const size = statSync(file).size;
    truncateSync(file, size - 7); // cut the last record mid-body
    const log = captureLog();
    const again = store(t.dir, { logger: log.logger });
    const r = await again.open();
    assert.equal(r.messages.length, 49);
    assert.equal(r.metadata.get('n')!.size, 49);
    assert.equal(log.warnings.length, 1, 'warned once');
    await again.journal([enqueue(100, [1])]);
    await again.close();
    const third = await reopen(t.dir);
    assert.deepEqual(third.messages.map((m) => m.seq).slice(-2), [48, 100]);
  });

  it('recovers from a corrupted tail (flipped bytes in the last record)', async () => {
    const s = store(t.dir);
    await s.open();
    for (let i = 0; i < 20; i++) await s.journal([enqueue(i, [1], `body-${i}`)]);
    await s.close();
    const file = lastSegment(t.dir);
    const buf = readFileSync(file);
    buf[buf.length - 3] ^= 0xff; // inside the last record's message body
    writeFileSync(file, buf);
    const log = captureLog();
    const again = store(t.dir, { logger: log.logger });
    const r = await again.open();
    assert.deepEqual(r.messages.map((m) => m.seq), Array.from({ length: 19 }, (_, i) => i));
    assert.equal(r.messages[18].message.toString(), 'body-18');
    assert.equal(log.warnings.length, 1);
    await again.close();
  });

  it('recovers from a zero-filled tail (a file extended but never written)', async () => {
    const s = store(t.dir);
    await s.open();
    await s.journal([put('z', 'k', 'v')]);
    await s.close();
    const fd = openSync(lastSegment(t.dir), 'a');
    writeFileSync(fd, Buffer.alloc(4096));
    closeSync(fd);
    const r = await reopen(t.dir);
    assert.deepEqual(plain(r.metadata), { z: { k: 'v' } });
  });

  it('skips the rest of a corrupt older segment without crashing, reading later segments', async () => {
    const s = store(t.dir, { journalSegmentBytes: 1024, journalMaxSegments: 1000 });
    await s.open();
    // Every key stays live, so no compaction rewrites the segments.
    for (let i = 0; i < 60; i++) await s.journal([put('k', `key${i}`, 'v'.repeat(40))]);
    await s.close();
    const files = journalFiles(t.dir);
    assert.ok(files.length >= 3);
    const first = join(t.dir, 'journal', files[0]);
    const buf = readFileSync(first);
    buf[20] ^= 0xff; // first record of the oldest segment
    writeFileSync(first, buf);
    const log = captureLog();
    const again = store(t.dir, { logger: log.logger, journalSegmentBytes: 1024, journalMaxSegments: 1000 });
    const r = await again.open();
    const keys = r.metadata.get('k')!;
    assert.ok(!keys.has('key0'), 'corrupt record dropped');
    assert.ok(keys.has('key59'), 'later segments read');
    assert.equal(log.warnings.length, 1);
    await again.close();
  });

  it('group-commits calls made in the same tick into few writes and fsyncs', async () => {
    const s = store(t.dir, { fsync: 'always' });
    await s.open();
    await s.journal([put('warm', 'up', '1')]);
    const probe = await open(join(t.dir, 'probe'), 'w');
    const proto = Object.getPrototypeOf(probe) as { writev: (...a: unknown[]) => Promise<unknown>; datasync: () => Promise<void> };
    await probe.close();
    const { writev, datasync } = proto;
    let writes = 0;
    let syncs = 0;
    proto.writev = function (this: unknown, ...a: unknown[]) { writes++; return writev.apply(this, a); };
    proto.datasync = function (this: unknown) { syncs++; return datasync.apply(this); };
    try {
      const waits = [];
      for (let i = 0; i < 1000; i++) waits.push(s.journal([enqueue(i, [1], 'x'.repeat(100))]));
      assert.ok(s.pendingBytes > 100_000, 'accepted bytes are pending until written');
      await Promise.all(waits);
      assert.equal(s.pendingBytes, 0);
    } finally {
      proto.writev = writev;
      proto.datasync = datasync;
    }
    assert.ok(writes >= 1 && writes <= 3, `1000 calls in one tick took ${writes} writes`);
    assert.ok(syncs >= 1 && syncs <= 3, `1000 calls in one tick took ${syncs} fsyncs`);
    await s.close();
    const r = await reopen(t.dir);
    assert.equal(r.messages.length, 1000);
  });

  it('keeps write order across many interleaved groups', async () => {
    const s = store(t.dir, { journalSegmentBytes: 4096 });
    await s.open();
    const waits = [];
    for (let i = 0; i < 500; i++) waits.push(s.journal([put('order', 'k', String(i))]), s.journal([put('order', `k${i % 7}`, String(i))]));
    await Promise.all(waits);
    await s.close();
    const r = await reopen(t.dir, { journalSegmentBytes: 4096 });
    assert.equal(r.metadata.get('order')!.get('k')!.toString(), '499');
    assert.equal(r.metadata.get('order')!.get('k0')!.toString(), '497');
  });

  it('rejects malformed entries without harming the store', async () => {
    const s = store(t.dir);
    await s.open();
    await assert.rejects(s.journal([{ kind: 'enqueue', seq: -1, queues: [1], message: Buffer.from('x') }]), RangeError);
    await assert.rejects(s.journal([{ kind: 'ack', seq: 1, queue: 1.5 }]), RangeError);
    await assert.rejects(s.journal([{ kind: 'nope' } as never]), TypeError);
    await s.journal([put('ok', 'k', 'v')]);
    await s.close();
    assert.deepEqual(plain((await reopen(t.dir)).metadata), { ok: { k: 'v' } });
  });

  it('rejects every call after close', async () => {
    const s = store(t.dir);
    await s.open();
    const p = await s.openPartition('s', 0, { retentionMs: -1, retentionBytes: -1, segmentBytes: 1 << 20 });
    await s.close();
    await assert.rejects(s.journal([put('a', 'b', 'c')]), StoreClosedError);
    await assert.rejects(s.openPartition('s', 0, { retentionMs: -1, retentionBytes: -1, segmentBytes: 1 << 20 }), StoreClosedError);
    await assert.rejects(s.flush(), StoreClosedError);
    await assert.rejects(s.deleteStream('s'), StoreClosedError);
    await assert.rejects(p.read(0, 100), StoreClosedError);
    await assert.rejects(s.open());
    await s.close(); // idempotent
  });
});
