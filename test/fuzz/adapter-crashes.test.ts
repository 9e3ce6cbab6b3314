/**
 * Crashes the fuzzer found in adapter code (MQTT zero-length acks, the AMQP disposition range,
 * AMQP SASL PLAIN with a non-binary response), each with its input in hex.
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { connect } from 'node:net';
import { parsePlain } from '../../plugins/auth/sasl.js';
import { amqpCanary, mqttCanary } from '../../fuzz/canaries.js';
import { sendSession } from '../../fuzz/broker-level.js';
import { amqpTarget } from '../../fuzz/targets/amqp.js';
import { recordingLogger, startBroker, type LogRecord, type RunningBroker } from '../support/index.js';

const MQTT_CONNECT_V4 = '101300044d5154540402003c000763616e61727932';

describe('fuzz: crashes found by the fuzzer (regressions)', function () {
  this.timeout(30_000);
  let broker: RunningBroker;
  const logs: LogRecord[] = [];

  before(async () => { broker = await startBroker({ logger: recordingLogger(logs) }); });
  after(async () => { await broker.close(); });

  const errors = (): LogRecord[] => logs.filter((r) => r.level === 'error');

  for (const [name, packet] of [['PUBREL', '6200'], ['PUBREC', '5000']]) {
    it(`mqtt: ${name} with remaining length 0 is a protocol error, not an internal RangeError`, async () => {
      const before = errors().length;
      await sendSession(broker.ports.mqtt!, Buffer.from(MQTT_CONNECT_V4 + packet, 'hex'));
      assert.deepEqual(errors().slice(before), []);
      await mqttCanary(broker.ports.mqtt!);
    });
  }

  it('amqp: a disposition with role=sender and the range 0..2^32-1 leaves the broker answering', async () => {
    // open, begin, disposition(role=sender, first=0, last=2^32-1, settled) from rhea's own frame encoder.
    const input = Buffer.concat([
      Buffer.from('414d515000010000', 'hex'),
      amqpFrame('open', { container_id: 'fuzz' }),
      amqpFrame('begin', { next_outgoing_id: 0, incoming_window: 100, outgoing_window: 100 }),
      amqpFrame('disposition', { role: false, first: 0, last: 0xffffffff, settled: true }),
    ]);
    const s = connect(broker.ports.amqp!, '127.0.0.1');
    await new Promise<void>((r) => s.on('connect', () => r()));
    s.write(input);
    await amqpCanary(broker.ports.amqp!);
    s.destroy();
    assert.deepEqual(errors(), []);
  });

  it('amqp: a SASL init whose initial-response is not binary is refused, not a TypeError in parsePlain (plugins/auth/sasl.ts)', () => {
    // Found by the amqp target; rhea hands parsePlain whatever type the peer encoded.
    const found = '414d5150030100000000002202010000005341b07fffffffcfff000012000000024e4f4e5341d00000001200000002a309414e4f4e267b9514804cadf7594d414d5150030100004f5553a00178';
    assert.doesNotThrow(() => amqpTarget().run(Buffer.from(found, 'hex')));
    assert.equal(parsePlain(7 as unknown as Buffer), null);
    assert.equal(parsePlain([] as unknown as Buffer), null);
  });
});

const rheaFrames = createRequire(import.meta.url)('rhea/lib/frames.js') as Record<string, unknown> & {
  write_frame(f: unknown): Buffer;
  amqp_frame(channel: number, p: unknown): unknown;
};

function amqpFrame(name: string, fields: Record<string, unknown>): Buffer {
  return rheaFrames.write_frame(rheaFrames.amqp_frame(0, (rheaFrames[name] as (f: object) => unknown)(fields)));
}
