import assert from 'node:assert/strict';
import { connect, endAll, Inbox, startMqtt, type MqttTestBroker } from './helpers.js';

describe('mqtt smoke', () => {
  let t: MqttTestBroker;
  before(async () => { t = await startMqtt(); });
  after(async () => { await endAll(); await t.close(); });

  for (const protocolVersion of [3, 4, 5] as const) {
    it(`publishes and receives with protocol ${protocolVersion}`, async () => {
      const sub = await connect(t.url, { protocolVersion });
      const inbox = new Inbox(sub);
      await sub.subscribeAsync('a/+/c', { qos: 1 });
      const pub = await connect(t.url, { protocolVersion });
      await pub.publishAsync('a/b/c', 'hello', { qos: 1 });
      const m = await inbox.next();
      assert.equal(m.topic, 'a/b/c');
      assert.equal(m.payload.toString(), 'hello');
      assert.equal(m.packet.qos, 1);
    });
  }
});
