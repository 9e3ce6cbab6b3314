/**
 * An MQTT persistent session's offline queue past queues.memoryBytes: QoS 1 messages page to disk
 * while the client is away, survive a broker restart as an index, and arrive in order when it
 * comes back (npm mqtt, protocol 5 and 3.1.1).
 */
import assert from 'node:assert/strict';
import { removeTempDir, tempDir } from '../support/index.js';
import { connect, connectInbox, endAll, startMqtt, uid, type MqttTestBroker } from '../mqtt/helpers.js';

const N = 2000;

describe('queues: an MQTT persistent session holding more than the memory budget', function () {
  this.timeout(60_000);
  let dir: string;
  let t: MqttTestBroker | undefined;
  beforeEach(() => (dir = tempDir('mqtt-paged-')));
  afterEach(async () => {
    await endAll();
    await t?.close();
    t = undefined;
    removeTempDir(dir);
  });

  for (const protocolVersion of [5, 4] as const) {
    it(`queues ${N} QoS 1 messages paged while offline, across a restart, delivered in order (protocol ${protocolVersion})`, async () => {
      t = await startMqtt({ dataDir: dir, queues: { memoryBytes: 16 * 1024 } });
      const persistent = protocolVersion === 5 ? { clean: false, properties: { sessionExpiryInterval: 3600 } } : { clean: false };
      const clientId = uid('deep');
      const topic = `deep/${clientId}`;
      const first = await connect(t.url, { protocolVersion, clientId, ...persistent });
      await first.subscribeAsync(topic, { qos: 1 });
      await first.endAsync();
      const pub = await connect(t.url);
      await Promise.all(Array.from({ length: N }, (_, i) => pub.publishAsync(topic, `m${i}|${'x'.repeat(100)}`, { qos: 1 })));
      const memory = t.b.broker.queueMemory;
      assert.ok(memory.pagedMessages > N - 150, `paged while offline: ${memory.pagedMessages}`);
      assert.ok(memory.heldBytes <= 16 * 1024);
      await endAll();
      t = await t.restart();
      assert.equal(t.b.broker.queueMemory.pagedMessages, N);
      const { inbox, connack } = await connectInbox(t.url, { protocolVersion, clientId, ...persistent });
      assert.equal(connack.sessionPresent, true);
      const got = await inbox.waitCount(N, 30_000);
      assert.deepEqual(got.map((m) => m.payload.toString().split('|')[0]), Array.from({ length: N }, (_, i) => `m${i}`));
    });
  }
});
