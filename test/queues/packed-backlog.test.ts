/**
 * A deep queue's paged backlog held packed (core/paged-run.ts: typed arrays, no object per
 * message) and the journal's index snapshot (docs/storage.md), with real clients against a broker
 * in a child process: filled over STOMP with priorities and a property; looked at through the
 * admin API in the middle of the packed part; a selecting STOMP consumer takes its share; a clean
 * restart loads the index snapshot; acks after it, then kill -9: the older snapshot plus the
 * journal after it; the rest drained over AMQP, in order throughout.
 */
import assert from 'node:assert/strict';
import type { IMessage } from '@stomp/stompjs';
import { TEST_HOST } from '../support/broker.js';
import { startJunctionProcess, type JunctionProcess } from '../support/junction-process.js';
import { close as closeAmqp, connect as connectAmqp, openReceiver } from '../amqp/helpers.js';
import { stompjs } from '../stomp/helpers.js';
import { eventually } from '../support/index.js';
import { metric, publishWithReceipts, stompUrl } from './child-broker.js';

const BUDGET = 64 * 1024;
const N = 6000;
const PRIORITIES = [1, 4, 9];
const PAD = 'p'.repeat(100);
const region = (i: number) => (i % 2 === 0 ? 'eu' : 'us');
/** Priority 9, then 4, then 1; FIFO within each. */
const EXPECTED = [9, 4, 1].flatMap((p) => Array.from({ length: N }, (_, i) => i).filter((i) => PRIORITIES[i % 3] === p));
const name = (body: string) => Number(body.slice(1, body.indexOf('|')));

const ready = (node: JunctionProcess) => metric(node, 'junction_queue_messages_ready', '{queue="packed"}');

/** Takes `n` messages over STOMP (client-individual acks), acks them, and unsubscribes. */
async function take(node: JunctionProcess, n: number, selector?: string): Promise<number[]> {
  const client = await stompjs(stompUrl(node));
  const got: number[] = [];
  const sub = client.subscribe('/queue/packed', (m: IMessage) => {
    if (got.length >= n) return; // left unacknowledged: it goes back when the client leaves
    got.push(name(m.body));
    m.ack();
  }, { ack: 'client-individual', 'prefetch-count': '50', ...(selector ? { selector } : {}) });
  await eventually(() => got.length >= n, { what: `${n} messages`, timeout: 60_000 });
  sub.unsubscribe();
  await client.deactivate();
  return got;
}

describe('queues: a packed paged backlog and the index snapshot across a clean restart and kill -9 (child process, real clients)', function () {
  this.timeout(180_000);
  let node: JunctionProcess | undefined;
  after(async () => {
    await node?.stop();
  });

  it('packs the paged backlog, serves the admin API, a selector, a snapshot restart and a kill -9 in order', async () => {
    node = await startJunctionProcess({ env: { JUNCTION_QUEUES_MEMORY_BYTES: String(BUDGET) } });
    const client = await stompjs(stompUrl(node));
    await publishWithReceipts(client, N, (i) => ({
      destination: '/queue/packed', body: `m${i}|${PAD}`,
      headers: { persistent: 'true', priority: String(PRIORITIES[i % 3]), region: region(i) },
    }));
    await client.deactivate();
    assert.equal(await ready(node), N);
    // All but the bodies the budget holds page out, and are packed once the journal stored them.
    await eventually(async () => (await metric(node!, 'junction_queue_packed_messages')) >= N - 600, { what: 'the backlog packed', timeout: 60_000 });

    // The admin API pages through the packed part in delivery order.
    const res = await fetch(`http://${TEST_HOST}:${node.ports.http}/api/queues/packed/messages?from=2500&count=3`);
    const peek = await res.json() as { messages: Array<{ payloadText: string; priority: number; headers: Record<string, unknown> }> };
    assert.deepEqual(peek.messages.map((m) => name(m.payloadText)), EXPECTED.slice(2500, 2503));
    assert.deepEqual(peek.messages.map((m) => m.headers.region), EXPECTED.slice(2500, 2503).map(region));

    // A selecting consumer takes only eu messages, in priority order, from the packed backlog.
    const eu = await take(node, 1000, "region = 'eu'");
    assert.deepEqual(eu, EXPECTED.filter((i) => region(i) === 'eu').slice(0, 1000));
    await eventually(async () => (await ready(node!)) === N - 1000, { what: 'the acks', timeout: 60_000 });
    let remaining = EXPECTED.filter((i) => !eu.includes(i));

    // A clean restart: the journal index comes from the snapshot; the backlog is packed again at once.
    await node.restart();
    assert.equal(await metric(node, 'junction_journal_index_from_snapshot'), 1);
    assert.equal(await ready(node), N - 1000);
    assert.ok(await metric(node, 'junction_queue_packed_messages') >= N - 1000 - 50, 'recovered packed (only given-back deliveries are objects)');

    // Acks after the snapshot, then kill -9: the older snapshot plus the journal written after it.
    const next = await take(node, 500);
    assert.deepEqual(next, remaining.slice(0, 500));
    remaining = remaining.slice(500);
    await eventually(async () => (await ready(node!)) === N - 1500, { what: 'the acks', timeout: 60_000 });
    await node.kill();
    await node.restart();
    assert.equal(await metric(node, 'junction_journal_index_from_snapshot'), 1);
    assert.equal(await ready(node), N - 1500);

    // The rest over AMQP, in order.
    const amqp = await connectAmqp(node.ports.amqp);
    const receiver = await openReceiver(amqp, { source: '/queue/packed', credit_window: 100, autoaccept: true });
    const rest: number[] = [];
    receiver.on('message', (ctx) => {
      const body = ctx.message!.body as Buffer | string | { content: Buffer };
      const text = typeof body === 'string' ? body : Buffer.isBuffer(body) ? body.toString() : Buffer.from(body.content).toString();
      rest.push(name(text));
    });
    await eventually(() => rest.length >= N - 1500, { what: 'the rest over AMQP', timeout: 60_000 });
    assert.deepEqual(rest, remaining);
    await closeAmqp(amqp);
    await eventually(async () => (await ready(node!)) === 0 && (await metric(node!, 'junction_queue_paged_messages')) === 0, { what: 'an empty queue', timeout: 60_000 });
    assert.equal(await metric(node, 'junction_queue_packed_messages'), 0);
  });
});
