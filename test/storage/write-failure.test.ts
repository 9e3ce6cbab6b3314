/**
 * A write group that fails part-way (ENOSPC after a short write) is refused to every caller, and
 * none of it may come back at the next open: the bytes that reached the file are cut at once.
 * Otherwise a record nobody was told is stored reappears after a restart, and an idempotent
 * producer that gave up on it and reused its sequence is answered as its duplicate (found by the
 * disk-full trial of `npm run chaos`).
 */
import assert from 'node:assert/strict';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { captureLog, enqueue, POLICY, batchAt, reopen, store, tempDir } from './helpers.js';

type WritevFn = (this: unknown, bufs: Buffer[], position?: number) => Promise<{ bytesWritten: number; buffers: Buffer[] }>;

/** The next writev writes only its first buffer; the one after fails with ENOSPC. Restores itself then. */
async function shortWriteThenEnospc(dir: string): Promise<{ restore: () => void; calls: () => number }> {
  const probe = await open(join(dir, 'probe'), 'w');
  const proto = Object.getPrototypeOf(probe) as { writev: WritevFn };
  await probe.close();
  const writev = proto.writev;
  let calls = 0;
  const restore = () => void (proto.writev = writev);
  proto.writev = function (bufs, position) {
    calls++;
    if (calls === 1) return writev.call(this, bufs.slice(0, 1), position);
    restore();
    return Promise.reject(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }));
  };
  return { restore, calls: () => calls };
}

describe('storage: a write group that fails part-way leaves nothing behind', () => {
  let t: ReturnType<typeof tempDir>;
  beforeEach(() => (t = tempDir('write-failure')));
  afterEach(() => t.remove());

  it('journal: refused records are not recovered at the next open', async () => {
    const s = store(t.dir, { logger: captureLog().logger });
    await s.open();
    await s.journal([enqueue(1, [1], 'stored')]);
    const fault = await shortWriteThenEnospc(t.dir);
    try {
      const refused = await Promise.allSettled([2, 3, 4].map((seq) => s.journal([enqueue(seq, [1], `refused-${seq}`)])));
      assert.equal(fault.calls(), 2, 'one group: a short write, then ENOSPC');
      assert.deepEqual(refused.map((r) => r.status), ['rejected', 'rejected', 'rejected']);
    } finally {
      fault.restore();
    }
    await s.close().catch(() => undefined);
    const r = await reopen(t.dir, { logger: captureLog().logger });
    assert.deepEqual(r.messages.map((m) => m.message.toString()), ['stored']);
  });

  it('stream partition: refused batches are not recovered at the next open', async () => {
    const s = store(t.dir, { logger: captureLog().logger });
    await s.open();
    const log = await s.openPartition('events', 0, POLICY);
    const first = batchAt(0, 1, { tag: 'stored' });
    await log.append(first.batch, first.info);
    const fault = await shortWriteThenEnospc(t.dir);
    try {
      const refused = await Promise.allSettled([1, 2, 3].map((off) => {
        const b = batchAt(off, 1, { tag: `refused-${off}` });
        return log.append(b.batch, b.info);
      }));
      assert.deepEqual(refused.map((r) => r.status), ['rejected', 'rejected', 'rejected']);
    } finally {
      fault.restore();
    }
    await s.close().catch(() => undefined);
    const again = store(t.dir, { logger: captureLog().logger });
    await again.open();
    const reopened = await again.openPartition('events', 0, POLICY);
    assert.equal(reopened.nextOffset, 1, 'only the stored batch is there');
    await again.close();
  });
});
