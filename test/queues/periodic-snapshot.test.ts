/**
 * The journal's periodic index snapshot (storage.snapshotEveryBytes, docs/storage.md), with a real
 * broker in a child process and STOMP clients: a deep queue filled while snapshots are taken is
 * killed with SIGKILL and restarts from the newest one, replaying the acks and messages journaled
 * after it; a SIGKILL in the middle of a snapshot's write (caught with an inotify watch on the
 * journal directory) leaves a store that restarts from the previous snapshot; then every message
 * acknowledged to its publisher is drained, in order, and nothing acked comes back.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync, watch } from 'node:fs';
import { join } from 'node:path';
import type { Client, IMessage } from '@stomp/stompjs';
import { startJunctionProcess, type JunctionProcess } from '../support/junction-process.js';
import { stompjs } from '../stomp/helpers.js';
import { eventually } from '../support/index.js';
import { metric, publishWithReceipts, stompUrl } from './child-broker.js';

const N = 20_000;
const TAKEN = 1000;
const PAD = 'p'.repeat(100);
const EVERY = 256 * 1024;
const DEST = '/queue/snapped';
const num = (body: string) => Number(body.slice(1, body.indexOf('|')));
const frame = (i: number) => ({ destination: DEST, body: `m${i}|${PAD}`, headers: { persistent: 'true' } });

const ready = (node: JunctionProcess) => metric(node, 'junction_queue_messages_ready', '{queue="snapped"}');
const snapshots = (node: JunctionProcess) => metric(node, 'junction_journal_index_snapshots_total');

/** Journal bytes on disk, and how many of them the snapshot on disk describes (its header: segment ids and sizes). */
function coverage(dataDir: string): { journal: number; covered: number } {
  const dir = join(dataDir, 'journal');
  const journal = readdirSync(dir).filter((f) => f.endsWith('.seg')).reduce((n, f) => n + statSync(join(dir, f)).size, 0);
  const snap = readFileSync(join(dir, 'index.snap'));
  let covered = 0;
  for (let i = 0, at = 12; i < snap.readUInt32LE(8); i++, at += 20) covered += snap.readDoubleLE(at + 8);
  return { journal, covered };
}

/** Sends frames numbered from..to-1 with receipts; `stored` gets each number whose receipt came back. Resolves when all did. */
function publishTracked(client: Client, from: number, to: number, stored: Set<number>): Promise<void> {
  return new Promise((resolve) => {
    let left = to - from;
    client.onUnhandledReceipt = (f) => {
      stored.add(Number(f.headers['receipt-id'].slice(1)));
      if (--left === 0) resolve();
    };
    for (let i = from; i < to; i++) {
      const params = frame(i);
      client.publish({ ...params, headers: { ...params.headers, receipt: `r${i}` } });
    }
  });
}

describe('queues: periodic index snapshots across kill -9, also in the middle of writing one (child process, STOMP)', function () {
  this.timeout(300_000);
  let node: JunctionProcess | undefined;
  /** Messages whose publisher got its receipt, not yet acked by a consumer. */
  const stored = new Set<number>();
  let next = 0;
  after(async () => {
    await node?.stop();
  });

  it('a deep queue killed with SIGKILL restarts from the periodic snapshot, with the acks and messages journaled after it', async () => {
    node = await startJunctionProcess({ env: { JUNCTION_QUEUES_MEMORY_BYTES: String(64 * 1024), JUNCTION_STORAGE_SNAPSHOT_EVERY_BYTES: String(EVERY) } });
    let client = await stompjs(stompUrl(node));
    await publishWithReceipts(client, N, frame);
    for (let i = 0; i < N; i++) stored.add(i);
    next = N;
    await client.deactivate();
    assert.ok(await snapshots(node) >= 1, 'snapshots taken while filling, with no stop');

    // Acks of the first 1,000, and 50 more messages at a time until a batch was journaled with no snapshot taken after it.
    client = await stompjs(stompUrl(node));
    const got: number[] = [];
    const sub = client.subscribe(DEST, (m: IMessage) => {
      if (got.length >= TAKEN) return;
      got.push(num(m.body));
      m.ack();
    }, { ack: 'client-individual', 'prefetch-count': '100' });
    await eventually(() => got.length >= TAKEN, { what: 'the first 1,000', timeout: 60_000 });
    sub.unsubscribe();
    assert.deepEqual(got, Array.from({ length: TAKEN }, (_, i) => i));
    for (const i of got) stored.delete(i);
    await eventually(async () => (await ready(node!)) === N - TAKEN, { what: 'the acks', timeout: 60_000 });
    for (let tries = 0; ; tries++) {
      const before = await snapshots(node);
      await publishWithReceipts(client, 50, (i) => frame(next + i));
      for (let i = next; i < next + 50; i++) stored.add(i);
      next += 50;
      await new Promise((r) => setTimeout(r, 500));
      if (await snapshots(node) === before) break;
      assert.ok(tries < 5, 'a batch with no snapshot after it');
    }
    await client.deactivate();
    await node.kill();
    const { journal, covered } = coverage(node.dataDir);
    assert.ok(journal > covered, `journal written after the newest snapshot: ${journal} bytes on disk, ${covered} in the snapshot`);

    await node.restart();
    assert.equal(await metric(node, 'junction_journal_index_from_snapshot'), 1);
    assert.equal(await ready(node), stored.size);
    assert.equal(await metric(node, 'junction_queue_paged_messages'), stored.size, 'recovered as an index: no body read');
  });

  it('a SIGKILL in the middle of writing a snapshot leaves a store that restarts from the previous one', async () => {
    assert.ok(node);
    const journalDir = join(node.dataDir, 'journal');
    const tmp = join(journalDir, 'index.snap.tmp');
    let caught = false;
    for (let attempt = 0; attempt < 5 && !caught; attempt++) {
      const client = await stompjs(stompUrl(node));
      let killed = false;
      const pid = node.node.pid!;
      const watcher = watch(journalDir, (_event, file) => {
        if (file !== 'index.snap.tmp' || killed) return;
        killed = true;
        process.kill(pid, 'SIGKILL'); // at once: the snapshot is being written now
      });
      try {
        // Batches of 500 until the kill: a snapshot starts about every 2,000 messages here (EVERY, or the last one's size).
        for (let batch = 0; batch < 40 && !killed; batch++) {
          const from = next;
          next += 500;
          await Promise.race([publishTracked(client, from, next, stored), node.exited]);
        }
      } finally {
        watcher.close();
      }
      assert.ok(killed, 'a snapshot was started');
      await node.exited;
      client.forceDisconnect();
      await client.deactivate();
      caught = existsSync(tmp); // else the rename won the race: try again
      await node.restart();
      assert.equal(await metric(node, 'junction_journal_index_from_snapshot'), 1);
      assert.ok(!existsSync(tmp), 'the half-written snapshot is removed at start');
      const count = await ready(node);
      assert.ok(count >= stored.size && count <= stored.size + 500, `${count} messages ready, ${stored.size} acknowledged to the publisher`);
    }
    assert.ok(caught, 'killed while a snapshot was being written');
  });

  it('then every message acknowledged to its publisher is delivered, in order, and none acked by a consumer', async () => {
    assert.ok(node);
    const client = await stompjs(stompUrl(node));
    const got: number[] = [];
    client.subscribe(DEST, (m: IMessage) => {
      got.push(num(m.body));
      m.ack();
    }, { ack: 'client-individual', 'prefetch-count': '1000' });
    await eventually(async () => (await ready(node!)) === 0 && (await metric(node!, 'junction_queue_messages_unacked', '{queue="snapped"}')) === 0, { what: 'the queue drained', timeout: 180_000 });
    await client.deactivate();
    for (let i = 1; i < got.length; i++) assert.ok(got[i] > got[i - 1], `in order at ${i}: ${got[i - 1]} then ${got[i]}`);
    const delivered = new Set(got);
    const missing = [...stored].filter((i) => !delivered.has(i));
    assert.deepEqual(missing, [], 'every acknowledged message');
    assert.ok(got.every((i) => i >= TAKEN), 'nothing acked before a crash comes back');
  });
});
