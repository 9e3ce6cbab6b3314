import assert from 'node:assert/strict';
import { constants, readdirSync } from 'node:fs';
import fsp from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
import { join } from 'node:path';
import { Broker } from '../../core/broker.js';
import { FilePool } from '../../core/storage/file-pool.js';
import { FileStore } from '../../core/storage/file-store.js';
import type { FsyncPolicy } from '../../core/store.js';
import { decodeRecords, encodeBatch } from '../../core/stream/record-codec.js';
import { batchAt, captureLog, store, tempDir, POLICY } from './helpers.js';

const openFds = (): number => readdirSync('/proc/self/fd').length;

/** Samples the process's descriptor count every few ms and on demand; `max` is the highest seen. */
function fdSampler(): { sample: () => void; stop: () => number } {
  let max = openFds();
  const sample = () => {
    max = Math.max(max, openFds());
  };
  const timer = setInterval(sample, 10);
  return { sample, stop: () => (clearInterval(timer), sample(), max) };
}

const rec = (value: string) => ({ timestamp: Date.now(), key: null, value: Buffer.from(value), headers: [] });

function fileStore(dir: string, fsync: FsyncPolicy, maxOpenFiles: number): FileStore {
  // No tail cache: every read after the append goes to the segment file.
  return new FileStore({ dir, fsync, fsyncIntervalMs: 20, maxOpenFiles, tailCacheBytes: 0, logger: captureLog().logger });
}

async function openBroker(s: FileStore): Promise<Broker> {
  const broker = new Broker(s, { housekeepingIntervalMs: 60_000 });
  await broker.open();
  return broker;
}

/** Partitions as [stream, partition] pairs: `streams` streams of `perStream` partitions. */
const layout = (streams: number, perStream: number): Array<[string, number]> =>
  Array.from({ length: streams * perStream }, (_, i) => [`s${Math.floor(i / perStream)}`, i % perStream]);

async function appendAll(broker: Broker, parts: Array<[string, number]>, round: number): Promise<void> {
  await Promise.all(parts.map(([s, p]) => broker.appendBatch(s, p, encodeBatch([rec(`${s}/${p}/r${round}`)])).stored));
}

async function readAll(broker: Broker, parts: Array<[string, number]>, rounds: number): Promise<void> {
  await Promise.all(parts.map(async ([s, p]) => {
    const batches = await broker.getStream(s)!.partition(p)!.read(0, 1 << 20);
    const values = batches.flatMap((b) => decodeRecords(b).map((r) => r.value!.toString()));
    assert.deepEqual(values, Array.from({ length: rounds }, (_, r) => `${s}/${p}/r${r}`), `${s}/${p}`);
  }));
}

describe('storage/open files', () => {
  const SLACK = 8; // the journal's head segment, transient directory reads

  it('2,000 partitions in 20 streams stay within maxOpenFiles: create, append, read, restart, read back', async function () {
    this.timeout(180_000);
    const CAP = 16;
    const t = tempDir('fds');
    const baseline = openFds();
    const fds = fdSampler();
    try {
      const parts = layout(20, 100);
      let s = fileStore(t.dir, 'interval', CAP);
      let broker = await openBroker(s);
      for (let i = 0; i < 20; i++) {
        // One stream grows by CreatePartitions-style addition, the rest are created whole.
        if (i === 0) {
          await broker.createStream('s0', { partitions: 10 });
          await broker.addPartitions('s0', 100);
        } else await broker.createStream(`s${i}`, { partitions: 100 });
        fds.sample();
      }
      await appendAll(broker, parts, 0);
      fds.sample();
      await appendAll(broker, parts, 1);
      await readAll(broker, parts, 2);
      fds.sample();
      assert.ok(s.openPartitionFiles.peak <= CAP, `pool peak ${s.openPartitionFiles.peak}`);
      await broker.close();
      assert.equal(s.openPartitionFiles.now, 0, 'a closed store holds no partition file');

      s = fileStore(t.dir, 'interval', CAP);
      broker = await openBroker(s);
      fds.sample();
      assert.equal([...broker.streams()].reduce((n, st) => n + st.partitions.length, 0), 2000);
      assert.ok(s.openPartitionFiles.now <= CAP);
      await readAll(broker, parts, 2);
      await appendAll(broker, parts, 2);
      await readAll(broker, parts, 3);
      assert.ok(s.openPartitionFiles.peak <= CAP, `pool peak after restart ${s.openPartitionFiles.peak}`);
      await broker.close();
    } finally {
      const max = fds.stop();
      t.remove();
      assert.ok(max <= baseline + CAP + SLACK, `open fds peaked at ${max}, baseline ${baseline}, cap ${CAP}`);
    }
  });

  it('under fsync always, 300 partitions with maxOpenFiles 8 acknowledge every append and read back after restart', async function () {
    this.timeout(120_000);
    const CAP = 8;
    const t = tempDir('fds-always');
    const baseline = openFds();
    const fds = fdSampler();
    try {
      const parts = layout(3, 100);
      let broker = await openBroker(fileStore(t.dir, 'always', CAP));
      for (let i = 0; i < 3; i++) await broker.createStream(`s${i}`, { partitions: 100 });
      await appendAll(broker, parts, 0);
      await appendAll(broker, parts, 1);
      await broker.close();
      broker = await openBroker(fileStore(t.dir, 'always', CAP));
      await readAll(broker, parts, 2);
      await broker.close();
    } finally {
      const max = fds.stop();
      t.remove();
      assert.ok(max <= baseline + CAP + SLACK, `open fds peaked at ${max}, baseline ${baseline}, cap ${CAP}`);
    }
  });

  it('a hot partition keeps its file open across appends', async () => {
    const t = tempDir('fds-hot');
    const s = store(t.dir, { maxOpenFiles: 4 });
    try {
      await s.open();
      const p = await s.openPartition('hot', 0, POLICY);
      assert.equal(s.openPartitionFiles.now, 0, 'an idle partition holds no file');
      const opensBefore = s.openPartitionFiles.opened;
      for (let i = 0; i < 50; i++) {
        const { batch, info } = batchAt(p.nextOffset, 2);
        await p.append(batch, info);
        assert.equal(s.openPartitionFiles.now, 1);
        assert.equal((await p.read(p.nextOffset - 2, 1 << 20)).length, 1);
      }
      assert.equal(s.openPartitionFiles.opened, opensBefore + 1, 'one open for 50 appends and reads');
    } finally {
      await s.close();
      t.remove();
    }
  });
});

describe('storage/file pool', () => {
  it('never closes a file that is in use: a second open waits for the release', async () => {
    const t = tempDir('pool');
    try {
      const pool = new FilePool(1);
      const a = pool.file(join(t.dir, 'a'), { flags: constants.O_RDWR | constants.O_CREAT });
      const b = pool.file(join(t.dir, 'b'), { flags: constants.O_RDWR | constants.O_CREAT });
      const fa = await a.acquire();
      let gotB = false;
      const waitB = b.acquire().then((fh) => {
        gotB = true;
        return fh;
      });
      await new Promise((r) => setTimeout(r, 20));
      assert.equal(gotB, false, 'b waited while a was pinned');
      await fa.write(Buffer.from('still open'), 0, 10, 0); // a's descriptor is still usable
      a.release();
      await waitB;
      assert.equal(a.isOpen, false);
      assert.equal(pool.openFiles, 1);
      assert.equal(pool.peak, 1);
      b.release();
      // a reopens on demand (closing b) and still holds what was written.
      const again = await a.acquire();
      const buf = Buffer.alloc(10);
      await again.read(buf, 0, 10, 0);
      assert.equal(buf.toString(), 'still open');
      a.release();
      assert.equal(b.isOpen, false);
      await a.retire();
      await b.retire();
      assert.equal(pool.openFiles, 0);
      await assert.rejects(a.acquire(), { code: 'ENOENT' });
    } finally {
      t.remove();
    }
  });

  for (const fsync of ['interval', 'never'] as const) {
    it(`a written partition file closed by the pool is fdatasynced first ${fsync === 'never' ? 'only by flush()' : '(interval)'} (fsync ${fsync})`, async () => {
      const t = tempDir(`pool-sync-${fsync}`);
      // Spy on every file the store opens: what happened to each partition log file, in order.
      const ops: string[] = [];
      const realOpen = fsp.open;
      fsp.open = (async (...args: Parameters<typeof realOpen>) => {
        const fh = await realOpen(...args);
        const name = String(args[0]);
        if (!name.endsWith('.log')) return fh;
        const who = name.includes('/a/') ? 'a' : 'b';
        const { datasync, close } = fh;
        fh.datasync = () => (ops.push(`${who} sync`), datasync.call(fh));
        fh.close = () => (ops.push(`${who} close`), close.call(fh));
        return fh;
      }) as typeof realOpen;
      syncBuiltinESMExports();
      // A long interval: the timer never fires during the test, so only the pool's close can sync.
      const s = store(t.dir, { fsync, fsyncIntervalMs: 60_000, maxOpenFiles: 1 });
      try {
        await s.open();
        const a = await s.openPartition('a', 0, POLICY);
        const b = await s.openPartition('b', 0, POLICY);
        const first = batchAt(0, 3);
        await a.append(first.batch, first.info);
        ops.length = 0;
        const second = batchAt(0, 3);
        await b.append(second.batch, second.info); // takes a's descriptor
        const aOps = ops.filter((o) => o.startsWith('a'));
        if (fsync === 'interval') assert.deepEqual(aOps, ['a sync', 'a close'], 'a was fdatasynced before its descriptor closed');
        else assert.deepEqual(aOps, ['a close'], 'under never the pool closes without syncing');
        ops.length = 0;
        await s.flush();
        // flush() syncs only what is still dirty: under interval a is clean (no reopen), b is open and dirty.
        assert.deepEqual(ops.filter((o) => o.endsWith('sync')).sort(), fsync === 'interval' ? ['b sync'] : ['a sync', 'b sync']);
        ops.length = 0;
        await s.flush();
        assert.deepEqual(ops, [], 'nothing left to sync');
        assert.equal((await a.read(0, 1 << 20)).length, 1);
      } finally {
        fsp.open = realOpen;
        syncBuiltinESMExports();
        await s.close();
        t.remove();
      }
    });
  }
});
