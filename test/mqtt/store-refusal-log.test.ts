/**
 * While the store refuses writes (storage.maxDiskBytes reached, as on a full disk), MQTT
 * publishers get their refusal (MQTT 5: PUBACK 0x80; 3.1.1, which has no negative
 * acknowledgement: the connection closes) and the log gets one warning without a stack, not a
 * line per PUBLISH and no protocol-error lines for the closes.
 */
import assert from 'node:assert/strict';
import mqtt from 'mqtt';
import type mqttPacket from 'mqtt-packet';
import { removeTempDir, startBroker, tempDir, TEST_HOST, type RunningBroker } from '../support/broker.js';
import { recordingLogger, type LogRecord } from '../support/logger.js';
import { rawConnected } from './helpers.js';

const BODY = 'b'.repeat(1000);

describe('mqtt: logging while the store refuses writes', function () {
  this.timeout(60_000);
  let dir: string;
  let b: RunningBroker;
  const records: LogRecord[] = [];
  before(async () => {
    dir = tempDir('mqtt-store-refusal-');
    b = await startBroker({ dataDir: dir, logger: recordingLogger(records), storage: { maxDiskBytes: 200 * 1024 }, queues: { memoryBytes: 16 * 1024 } });
  });
  after(async () => {
    await b?.close();
    removeTempDir(dir);
  });

  it('300 refused publishes (MQTT 5 QoS 1 and 2, 3.1.1 QoS 1, QoS 0) log one warning at warn, without a stack', async () => {
    const url = `mqtt://${TEST_HOST}:${b.ports.mqtt}`;
    // A persistent session keeps what is published to full/# on disk while it is away.
    const keeper = await mqtt.connectAsync(url, { clientId: 'keeper', clean: false, protocolVersion: 4, reconnectPeriod: 0 });
    await keeper.subscribeAsync('full/#', { qos: 1 });
    await keeper.endAsync();
    const before = records.length;

    const v5 = await mqtt.connectAsync(url, { clientId: 'v5-publisher', protocolVersion: 5, reconnectPeriod: 0 });
    let accepted = 0;
    for (;;) {
      try {
        await v5.publishAsync('full/a', BODY, { qos: 1 });
        accepted++;
      } catch (err) {
        assert.equal((err as { code?: number }).code, 0x80);
        break;
      }
      assert.ok(accepted < 1000, 'the store refuses before 1000 publishes');
    }

    let refused = 1;
    for (let i = 0; i < 200; i++) {
      await assert.rejects(v5.publishAsync('full/a', BODY, { qos: (i % 2 + 1) as 1 | 2 }), (err: { code?: number }) => err.code === 0x80);
      refused++;
    }
    for (let i = 0; i < 50; i++) await v5.publishAsync('full/a', BODY, { qos: 0 });
    // MQTT 3.1.1: no negative acknowledgement; the broker closes the connection, the client resends later.
    for (let i = 0; i < 49; i++) {
      const r = await rawConnected(b.ports.mqtt!, 4, { clientId: `v311-${i}` });
      r.send({ cmd: 'publish', topic: 'full/b', payload: Buffer.from(BODY), qos: 1, messageId: 1, retain: false, dup: false } as mqttPacket.IPublishPacket);
      await r.closed;
      assert.equal(r.packets.some((p) => p.cmd === 'puback'), false, 'a refused 3.1.1 publish is not acknowledged');
      refused++;
    }
    await v5.endAsync();
    assert.equal(refused, 250);

    const after = records.slice(before);
    const loud = after.filter((r) => r.level === 'warn' || r.level === 'error');
    assert.deepEqual(loud.map((r) => [r.level, r.msg]), [['warn', 'mqtt: the store refuses writes: publishes are refused (logged at most once a minute)']]);
    const line = loud[0].obj as Record<string, unknown>;
    assert.match(String(line.reason), /storage limit reached/);
    assert.equal(line.err, undefined, 'no error object (no stack)');
    assert.doesNotMatch(JSON.stringify(line), /\n\s+at /);
  });
});
