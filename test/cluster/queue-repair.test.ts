/**
 * The shared-queue stream's repair (plugins/cluster/queue-stream.ts): messages stored in
 * `JUNCTION_QUEUES` that an owned queue does not hold (its feed missed them) are read back from the
 * stream leader, in order, once each, while the feed keeps delivering what comes after. The feed
 * is made to miss them here by storing them while the queue is not yet owned; a 3-server JetStream
 * cluster and a core Queue of an in-process broker.
 */
import assert from 'node:assert/strict';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { pino } from 'pino';
import type { Broker } from '../../core/broker.js';
import { createMessage } from '../../core/message.js';
import type { Queue } from '../../core/queue.js';
import { enqueueStored, QueueStream, type QueueTable, type StoredQueueMessage } from '../../plugins/cluster/queue-stream.js';
import { openBroker } from '../core/helpers.js';
import { eventually } from '../support/index.js';
import { requireNatsServer, startNatsCluster, type TestNatsCluster } from '../support/nats-cluster.js';

describe('cluster: shared-queue repair', function () {
  this.timeout(90000);
  before(requireNatsServer);
  let nats: TestNatsCluster;
  let nc: NatsConnection;
  let broker: Broker;
  let stream: QueueStream;

  before(async () => {
    nats = await startNatsCluster({ servers: 3 });
    nc = await connect({ servers: nats.urls });
    broker = await openBroker();
  });
  after(async () => {
    stream?.stop();
    await broker?.close();
    await nc?.close();
    await nats?.stop();
  });

  it('reads back, in order and once, the stored messages an owned queue lacks; the feed delivers the later ones', async () => {
    const q: Queue = await broker.declareQueue('repair.q', { durable: false });
    const table: QueueTable & { owned: Set<string> } = {
      owned: new Set(),
      known: new Map([[q.name, q]]),
      loading: new Map<string, StoredQueueMessage[]>(),
      enqueue: (queue, seq, data) => enqueueStored(queue, seq, data),
    };
    stream = new QueueStream(jetstream(nc), await jetstreamManager(nc), table, pino({ level: 'silent' }));
    await stream.start(3);
    const send = (body: string) => stream.append(q.name, createMessage({ topic: q.name, payload: Buffer.from(body) }));
    // Stored while this node does not own the queue: the feed passes them by.
    for (let i = 0; i < 30; i++) await send(`early-${i}`);
    // Messages of another queue in between: the read-back searches gaps between held sequences.
    await stream.append('other.q', createMessage({ topic: 'other.q', payload: Buffer.from('not ours') }));
    table.owned.add(q.name);
    const bodies = () => q.allEntries().map((e) => e.message!.payload.toString());
    await eventually(() => q.messageCount >= 30, { timeout: 30000, what: () => `the repair to read back 30 messages (have ${q.messageCount})` });
    assert.deepEqual(bodies(), Array.from({ length: 30 }, (_, i) => `early-${i}`));
    // Owned now: later messages come through the feed, and nothing is read back twice.
    for (let i = 0; i < 5; i++) await send(`late-${i}`);
    await eventually(() => q.messageCount >= 35, { timeout: 30000, what: () => `5 more through the feed (have ${q.messageCount})` });
    assert.deepEqual(bodies(), [...Array.from({ length: 30 }, (_, i) => `early-${i}`), ...Array.from({ length: 5 }, (_, i) => `late-${i}`)]);
    // A settled message is deleted from the stream, so the next checks find the queue whole.
    const ready = q.takeReady();
    for (const e of ready) await stream.remove(q.name, e.seq);
    const info = await (await jetstreamManager(nc)).streams.info('JUNCTION_QUEUES', { subjects_filter: 'junction.q.>' });
    assert.equal(Object.entries(info.state.subjects ?? {}).find(([s]) => s.startsWith('junction.q.repair'))?.[1] ?? 0, 0);
  });
});
