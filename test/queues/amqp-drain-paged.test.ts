/**
 * AMQP drain over a paged queue: messages on disk only count as available, so a drain (Qpid JMS
 * receiveNoWait, rhea's drain) gets them instead of an empty answer while the queue reads them
 * back. Also a browse (distribution-mode: copy) of paged messages drained the same way. rhea.
 */
import assert from 'node:assert/strict';
import { removeTempDir, startBroker, tempDir, type RunningBroker } from '../support/broker.js';
import { close, connect, drain as drainBy, openReceiver } from '../amqp/helpers.js';
import { createMessage } from '../../core/message.js';

const body = (m: { body?: unknown }) => {
  const b = m.body as Buffer | string | { content: Buffer };
  return typeof b === 'string' ? b : Buffer.isBuffer(b) ? b.toString() : Buffer.from(b.content).toString();
};

/** One flow carrying both the credit and drain=true: the broker must answer it from paged messages. */
const drain = (r: Parameters<typeof drainBy>[0], credit: number) => drainBy(r, credit, true);

describe('queues: AMQP drain of paged messages', function () {
  this.timeout(60_000);
  let dir: string;
  let b: RunningBroker | undefined;
  beforeEach(() => (dir = tempDir('amqp-drain-paged-')));
  afterEach(async () => {
    await b?.close().catch(() => undefined);
    b = undefined;
    removeTempDir(dir);
  });

  it('a drain after a restart (everything paged) gets the messages, in order, for its credit', async () => {
    const options = { dataDir: dir, queues: { memoryBytes: 0 }, protocols: ['amqp'] };
    b = await startBroker(options);
    await b.broker.declareQueue('pull', { durable: true });
    for (let i = 0; i < 50; i++) await b.broker.sendToQueue('pull', createMessage({ topic: 'pull', payload: Buffer.from(`m${i}`), durable: true }));
    await b.close();
    b = await startBroker(options);
    assert.equal(b.broker.queueMemory.pagedMessages, 50);

    const c = await connect(b.ports.amqp!);
    // A browser first: it reads copies and takes nothing.
    const browser = await openReceiver(c, { source: { address: '/queue/pull', distribution_mode: 'copy' } });
    const browsed = await drain(browser, 100);
    assert.deepEqual(browsed.map((r) => body(r.message)), Array.from({ length: 50 }, (_, i) => `m${i}`));
    browser.close();

    const r = await openReceiver(c, { source: '/queue/pull', autoaccept: true });
    const first = await drain(r, 20);
    assert.deepEqual(first.map((x) => body(x.message)), Array.from({ length: 20 }, (_, i) => `m${i}`));
    const rest = await drain(r, 100);
    assert.deepEqual(rest.map((x) => body(x.message)), Array.from({ length: 30 }, (_, i) => `m${20 + i}`));
    const none = await drain(r, 10);
    assert.equal(none.length, 0, 'an empty queue still answers a drain');
    await close(c);
  });
});
