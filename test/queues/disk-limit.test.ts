/**
 * storage.maxDiskBytes reached: each protocol's publisher gets its own refusal (AMQP rejected,
 * STOMP ERROR, MQTT 5 PUBACK with an error reason code), nothing acknowledged is lost, and
 * publishing works again once consumers free space. Real clients (rhea, @stomp/stompjs, mqtt).
 */
import assert from 'node:assert/strict';
import mqtt from 'mqtt';
import { removeTempDir, startBroker, tempDir, TEST_HOST, type RunningBroker } from '../support/broker.js';
import { close as closeAmqp, connect as connectAmqp, openReceiver, openSender, receive, send, sendable } from '../amqp/helpers.js';
import { stompjs } from '../stomp/helpers.js';

const CAP = 200 * 1024;

/** Names the step that did not finish (a hung step fails with its name, not the suite's timeout). */
function step<T>(name: string, p: Promise<T>, ms = 20_000): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([p, new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`step did not finish: ${name}`)), ms); })])
    .finally(() => clearTimeout(timer));
}
const BODY = 'b'.repeat(1000);

describe('queues: storage.maxDiskBytes answered with each protocol\'s refusal', function () {
  this.timeout(60_000);
  let dir: string;
  let b: RunningBroker | undefined;
  beforeEach(() => (dir = tempDir('disk-limit-')));
  afterEach(async () => {
    await b?.close().catch(() => undefined);
    b = undefined;
    removeTempDir(dir);
  });

  const start = async () => (b = await startBroker({ dataDir: dir, storage: { maxDiskBytes: CAP }, queues: { memoryBytes: 16 * 1024 } }));

  it('refuses new messages at the cap over AMQP, STOMP and MQTT 5, loses nothing acknowledged, and takes messages again once drained', async () => {
    await start();
    await b!.broker.declareQueue('capped', { durable: true });
    await b!.broker.bindQueue('capped', 'capped.mqtt');

    // AMQP: accepted until the cap, then rejected (the store refused), the link stays usable.
    const amqp = await connectAmqp(b!.ports.amqp!);
    const sender = await openSender(amqp, '/queue/capped');
    let accepted = 0;
    let outcome = 'accepted';
    while (outcome === 'accepted' && accepted < 1000) {
      await step('AMQP credit', sendable(sender));
      outcome = await step(`AMQP send ${accepted}`, send(sender, { body: `a${accepted}|${BODY}`, durable: true }));
      if (outcome === 'accepted') accepted++;
    }
    assert.equal(outcome, 'rejected:amqp:internal-error');
    assert.ok(accepted > 150 && accepted < 210, `about 200 KB of messages accepted: ${accepted}`);

    // STOMP: a SEND with a receipt gets an ERROR frame naming the limit instead of the RECEIPT.
    const stomp = await stompjs(`ws://${TEST_HOST}:${b!.ports.http}/stomp`);
    const error = new Promise<string>((resolve) => {
      stomp.onStompError = (f) => resolve(f.headers.message);
      // A RECEIPT instead says the SEND was stored: the failure then names that, not a timeout.
      stomp.watchForReceipt('r1', () => resolve('RECEIPT: the SEND was stored at the cap'));
    });
    stomp.publish({ destination: '/queue/capped', body: BODY, headers: { persistent: 'true', receipt: 'r1' } });
    assert.match(await step('STOMP ERROR', error), /storage limit reached/);
    await step('STOMP deactivate', stomp.deactivate({ force: true })); // the broker closes the connection after its ERROR

    // MQTT 5: QoS 1 PUBACK with reason code 0x80 (unspecified error).
    const client = await mqtt.connectAsync(`mqtt://${TEST_HOST}:${b!.ports.mqtt}`, { protocolVersion: 5, reconnectPeriod: 0 });
    await assert.rejects(step('MQTT PUBACK', client.publishAsync('capped/mqtt', BODY, { qos: 1 })), (err: Error & { code?: number }) => err.code === 0x80);
    await step('MQTT end', client.endAsync());

    // Consumers free space: 50 taken (and settled), then publishing is accepted again.
    const receiver = await openReceiver(amqp, { source: '/queue/capped', autoaccept: true });
    const got = await step('AMQP receive 50', receive(receiver, 50));
    assert.deepEqual(got.map((r) => String(r.message.body).split('|')[0]), Array.from({ length: 50 }, (_, i) => `a${i}`));
    receiver.close();
    const q = b!.broker.getQueue('capped')!;
    await step('settlements', (async () => { while (q.unackedMessageCount > 0) await new Promise((r) => setTimeout(r, 10)); })());
    await new Promise((r) => setTimeout(r, 100)); // the store measures what it holds at most every 50 ms
    assert.equal(await step('AMQP send again', send(sender, { body: `again|${BODY}`, durable: true })), 'accepted');
    await step('AMQP close', closeAmqp(amqp));

    // Everything acknowledged is there after a restart: accepted - 50 taken + 1.
    await b!.close();
    await start();
    assert.equal(b!.broker.getQueue('capped')!.messageCount, accepted - 50 + 1);
  });
});
