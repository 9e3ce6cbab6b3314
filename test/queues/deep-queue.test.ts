/**
 * A deep durable queue past the memory budget (queues.memoryBytes, docs/storage.md), with real
 * clients against a broker in a child process: filled over STOMP with priorities, browsed, killed
 * with SIGKILL, drained partly over STOMP, restarted, drained over AMQP, in priority order
 * throughout. Memory is asserted on the broker's own counters (/metrics), not on process RSS.
 */
import assert from 'node:assert/strict';
import type { IMessage } from '@stomp/stompjs';
import { startJunctionProcess, type JunctionProcess } from '../support/junction-process.js';
import { close as closeAmqp, connect as connectAmqp, openReceiver } from '../amqp/helpers.js';
import { stompjs } from '../stomp/helpers.js';
import { eventually } from '../support/index.js';
import { metric, publishWithReceipts, stompUrl } from './child-broker.js';
import { HELD_OVERHEAD } from '../../core/queue-memory.js';

const BUDGET = 64 * 1024;
const N = 3000;
const PRIORITIES = [1, 4, 9];
const PAD = 'p'.repeat(150);

/** Priority 9, then 4, then 1; FIFO within each. */
const EXPECTED = [9, 4, 1].flatMap((p) => Array.from({ length: N }, (_, i) => i).filter((i) => PRIORITIES[i % 3] === p).map((i) => `m${i}`));
const name = (body: string) => body.slice(0, body.indexOf('|'));

describe('queues: a deep queue past queues.memoryBytes, across kill -9 and a restart (child process, real clients)', function () {
  this.timeout(180_000);
  let node: JunctionProcess | undefined;
  after(async () => {
    await node?.stop();
  });

  it('fills past the budget, browses, survives kill -9, drains in priority order over STOMP then AMQP', async () => {
    node = await startJunctionProcess({ env: { JUNCTION_QUEUES_MEMORY_BYTES: String(BUDGET) } });
    let client = await stompjs(stompUrl(node));
    await publishWithReceipts(client, N, (i) => ({ destination: '/queue/deep', body: `m${i}|${PAD}`, headers: { persistent: 'true', priority: String(PRIORITIES[i % 3]) } }));
    assert.equal(await metric(node, 'junction_queue_messages_ready', '{queue="deep"}'), N);
    assert.ok(await metric(node, 'junction_queue_memory_bytes') <= BUDGET, 'bodies in memory within the budget');
    assert.equal(await metric(node, 'junction_queue_memory_budget_bytes'), BUDGET);
    const paged = await metric(node, 'junction_queue_paged_messages');
    assert.ok(paged >= N - BUDGET / 200, `paged messages: ${paged}`);

    // A STOMP browser sees every message, paged ones included, in delivery order, and takes none.
    const browsed: string[] = [];
    let ended = false;
    const browse = client.subscribe('/queue/deep', (m: IMessage) => {
      if (m.headers['browser'] === 'end') ended = true;
      else browsed.push(name(m.body));
    }, { browser: 'true' });
    await eventually(() => ended, { what: 'browser:end' });
    browse.unsubscribe();
    assert.deepEqual(browsed, EXPECTED);
    assert.equal(await metric(node, 'junction_queue_messages_ready', '{queue="deep"}'), N);
    assert.ok(await metric(node, 'junction_queue_memory_bytes') <= BUDGET, 'browsing keeps nothing in memory');
    await client.deactivate();

    // kill -9: every acknowledged message comes back, as an index: no body is read at recovery.
    await node.kill();
    await node.restart();
    assert.equal(await metric(node, 'junction_queue_messages_ready', '{queue="deep"}'), N);
    assert.equal(await metric(node, 'junction_queue_paged_messages'), N);
    assert.equal(await metric(node, 'junction_queue_memory_bytes'), 0);

    // Drain a third over STOMP (client-individual acks, a prefetch window), checking the memory bound as it goes.
    client = await stompjs(stompUrl(node));
    const first: string[] = [];
    let peak = 0;
    const third = N / 3;
    const sub = client.subscribe('/queue/deep', (m: IMessage) => {
      if (first.length < third) {
        first.push(name(m.body));
        m.ack();
      }
    }, { ack: 'client-individual', 'prefetch-count': '20' });
    await eventually(async () => {
      peak = Math.max(peak, await metric(node!, 'junction_queue_memory_bytes'));
      return first.length >= third;
    }, { what: 'the first third' });
    sub.unsubscribe();
    await client.deactivate();
    assert.deepEqual(first, EXPECTED.slice(0, third));
    // Read-ahead: at most one batch (512 messages, 1 MiB) per queue on top of the budget, each
    // counting its size (about 200 bytes here) and HELD_OVERHEAD.
    assert.ok(peak <= BUDGET + 512 * (272 + HELD_OVERHEAD), `peak bodies in memory while draining: ${peak}`);

    // A clean restart, then the rest over AMQP, still in order (unacked prefetched ones came back first).
    await eventually(async () => (await metric(node!, 'junction_queue_messages_ready', '{queue="deep"}')) === N - third, { what: 'the acks' });
    await node.restart();
    const amqp = await connectAmqp(node.ports.amqp);
    const receiver = await openReceiver(amqp, { source: '/queue/deep', credit_window: 100, autoaccept: true });
    const rest: string[] = [];
    receiver.on('message', (ctx) => {
      const body = ctx.message!.body as Buffer | string | { content: Buffer };
      const text = typeof body === 'string' ? body : Buffer.isBuffer(body) ? body.toString() : Buffer.from(body.content).toString();
      rest.push(name(text));
    });
    await eventually(() => rest.length >= N - third, { what: 'the rest over AMQP' });
    assert.deepEqual(rest, EXPECTED.slice(third));
    await closeAmqp(amqp);
    await eventually(async () => (await metric(node!, 'junction_queue_messages_ready', '{queue="deep"}')) === 0
      && (await metric(node!, 'junction_queue_messages_unacked', '{queue="deep"}')) === 0, { what: 'an empty queue' });
    assert.equal(await metric(node, 'junction_queue_paged_messages'), 0);
  });
});
