/**
 * Browsing a queue over AMQP: a receiver whose source asks for distribution-mode copy sees the
 * ready messages in delivery order (priority, then FIFO), settled, and takes none of them; a
 * drain ends the browse. rhea and Qpid Proton (python3-qpid-proton) as clients.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import rhea from 'rhea';
import { createMessage } from '../../core/message.js';
import { DEBIAN_PYTHON, requireDebianClient } from '../support/debian.js';
import { brokerPerTest, drain, type Harness, openReceiver, receive, refusal } from './helpers.js';

const SCRIPT = fileURLToPath(new URL('../../../test/amqp/proton_client.py', import.meta.url));

const text = (m: rhea.Message) => (typeof m.body === 'string' ? m.body : Buffer.from((m.body as { content: Buffer }).content).toString());

describe('amqp browsing (distribution-mode copy)', function () {
  let h: Harness;
  let c: rhea.Connection;
  brokerPerTest((broker, connection) => {
    h = broker;
    c = connection;
  });

  const fill = async (queue: string) => {
    await h.broker.declareQueue(queue, { durable: true });
    for (const [body, priority] of [['a', 2], ['b', 7], ['c', 2], ['d', undefined]] as const) {
      await h.broker.sendToQueue(queue, createMessage({ topic: queue, payload: Buffer.from(body), priority }));
    }
  };

  it('a copy receiver gets every ready message in delivery order, settled, and the queue keeps them', async () => {
    await fill('browsed');
    const r = await openReceiver(c, { source: { address: '/queue/browsed', distribution_mode: 'copy' } });
    assert.equal((r as unknown as { remote: { attach: { source: { distribution_mode: string } } } }).remote.attach.source.distribution_mode, 'copy');
    const got = await receive(r, 4);
    assert.deepEqual(got.map((g) => text(g.message)), ['b', 'd', 'a', 'c']);
    assert.ok(got.every((g) => g.delivery.remote_settled), 'browse deliveries arrive settled');
    const q = h.broker.getQueue('browsed')!;
    assert.equal(q.messageCount, 4);
    assert.equal(q.unackedMessageCount, 0);
    assert.equal(q.consumers.length, 0);
    // A consuming receiver still gets all four.
    const take = await openReceiver(c, { source: '/queue/browsed', autoaccept: true });
    assert.deepEqual((await receive(take, 4)).map((g) => text(g.message)), ['b', 'd', 'a', 'c']);
  });

  it('credit paces a browse and a drain ends it when the snapshot is done', async () => {
    await fill('paced');
    const r = await openReceiver(c, { source: { address: '/queue/paced', distribution_mode: 'copy' } });
    assert.deepEqual((await receive(r, 1)).map((g) => text(g.message)), ['b']);
    const rest = await drain(r, 10);
    assert.deepEqual(rest.map((g) => text(g.message)), ['d', 'a', 'c']);
    assert.equal(h.broker.getQueue('paced')!.messageCount, 4);
  });

  it('copy on a topic source is refused with amqp:not-implemented', async () => {
    assert.equal(await refusal(openReceiver(c, { source: { address: '/topic/news', distribution_mode: 'copy' } })), 'amqp:not-implemented');
  });

  describe('with Qpid Proton', function () {
    this.timeout(60000);
    before(requireDebianClient('python3-qpid-proton', 'python3:proton'));

    it('Proton\'s Copy() receiver browses without taking', async () => {
      await fill('py-browse');
      const out = await new Promise<string>((resolve, reject) => {
        execFile(DEBIAN_PYTHON, [SCRIPT, 'browse', `amqp://127.0.0.1:${h.port}`, '/queue/py-browse', '4'], { timeout: 30000 }, (err, stdout, stderr) => {
          if (err) reject(new Error(`${err.message}\n${stderr}`));
          else resolve(stdout.trim().split('\n').at(-1)!);
        });
      });
      const got = JSON.parse(out) as Array<{ body: { binary: string } | string; priority: number }>;
      const bodies = got.map((m) => (typeof m.body === 'string' ? m.body : Buffer.from(m.body.binary, 'hex').toString()));
      assert.deepEqual(bodies, ['b', 'd', 'a', 'c']);
      assert.deepEqual(got.map((m) => m.priority), [7, 4, 2, 2]);
      assert.equal(h.broker.getQueue('py-browse')!.messageCount, 4);
    });
  });
});
