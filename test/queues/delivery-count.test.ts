/**
 * Delivery counts survive crashes: a message delivered and not acknowledged before a kill -9 comes
 * back marked redelivered with its count, so maxDeliveries sends a message that crashes its
 * consumer (or the broker) every time to the dead-letter queue. Child-process broker, STOMP client.
 */
import assert from 'node:assert/strict';
import type { Client, IMessage } from '@stomp/stompjs';
import { TEST_HOST } from '../support/broker.js';
import { startJunctionProcess, type JunctionProcess } from '../support/junction-process.js';
import { stompjs } from '../stomp/helpers.js';
import { eventually } from '../support/index.js';
import { metric } from './child-broker.js';

/** The first message on `destination` (client-individual, never acknowledged). */
function firstMessage(client: Client, destination: string): Promise<IMessage> {
  return new Promise((resolve) => {
    client.subscribe(destination, (m) => resolve(m), { ack: 'client-individual' });
  });
}

describe('queues: delivery counts across kill -9 (child process, STOMP)', function () {
  this.timeout(120_000);
  let node: JunctionProcess | undefined;
  after(async () => {
    await node?.stop();
  });

  it('a message delivered and unacknowledged at each crash comes back redelivered and reaches the dead-letter queue at maxDeliveries', async () => {
    node = await startJunctionProcess({ env: { JUNCTION_QUEUES_MAX_DELIVERIES: '3' } });
    let client = await stompjs(`ws://${TEST_HOST}:${node.ports.http}/stomp`);
    await new Promise<void>((resolve) => {
      client.watchForReceipt('sent', () => resolve());
      client.publish({ destination: '/queue/poison', body: 'poison', headers: { persistent: 'true', receipt: 'sent' } });
    });
    const seen: Array<string | undefined> = [];
    for (let crash = 0; crash < 3; crash++) {
      const m = await firstMessage(client, '/queue/poison');
      assert.equal(m.body, 'poison');
      seen.push(m.headers.redelivered);
      // The delivery is journaled in the background: wait until the store has written everything, then crash.
      await eventually(async () => (await metric(node!, 'junction_store_pending_bytes')) === 0, { what: 'the store written through' });
      await node.kill();
      await node.restart();
      client = await stompjs(`ws://${TEST_HOST}:${node.ports.http}/stomp`);
    }
    assert.deepEqual(seen, [undefined, 'true', 'true'], 'redelivered after each crash');
    // Three deliveries failed (each by a crash): the message is in the dead-letter queue, not delivered a fourth time.
    const peeked = await eventually(async () => {
      const res = await fetch(`http://${TEST_HOST}:${node!.ports.http}/api/queues/poison.dlq/messages`);
      const body = res.status === 200 ? await res.json() as { messages: Array<{ headers: Record<string, unknown> }> } : null;
      return body?.messages.length ? body : null;
    }, { what: 'the message in poison.dlq' });
    assert.equal(peeked.messages[0]?.headers['x-delivery-count'], 3);
    const dead = await firstMessage(client, '/queue/poison.dlq');
    assert.equal(dead.body, 'poison');
    assert.equal(dead.headers['x-death-reason'], 'delivery-limit');
    assert.equal(dead.headers['x-original-queue'], 'poison');
    const text = await (await fetch(`http://${TEST_HOST}:${node.ports.http}/metrics`)).text();
    assert.match(text, /junction_queue_messages_ready\{queue="poison"\} 0\b/);
    await client.deactivate();
  });
});
