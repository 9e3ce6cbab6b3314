/** Configurable limits: connections, subscriptions per session, maximum QoS, retain availability. */
import assert from 'node:assert/strict';
import type mqttPacket from 'mqtt-packet';
import { connect, connectRefused, endAll, rawConnected, startMqtt, type MqttTestBroker } from './helpers.js';
import { eventually } from '../support/index.js';

describe('mqtt limits', () => {
  let t: MqttTestBroker;
  before(async () => { t = await startMqtt({ mqtt: { maxConnections: 2, maxSubscriptionsPerSession: 2, maxQos: 1, retainAvailable: false } }); });
  afterEach(async () => {
    await endAll();
    await eventually(() => t.adapter().connectionCount === 0, { what: 'connections closed' });
  });
  after(async () => { await t.close(); });

  it('refuses connections beyond maxConnections (MQTT 5: 0x97, 3.1.1: 3)', async () => {
    await connect(t.url);
    await connect(t.url);
    assert.equal((await connectRefused(t.url, { protocolVersion: 5 })).code, 0x97);
    assert.equal((await connectRefused(t.url)).code, 3);
  });

  it('refuses subscriptions beyond maxSubscriptionsPerSession; grants at most maxQos', async () => {
    const r = await rawConnected(t.port, 5);
    r.send({ cmd: 'subscribe', messageId: 1, subscriptions: ['a', 'b', 'c'].map((topic) => ({ topic, qos: 2, nl: false, rap: false, rh: 0 })) } as mqttPacket.ISubscribePacket);
    assert.deepEqual(((await r.nextPacket()) as mqttPacket.ISubackPacket).granted, [1, 1, 0x97]);
    r.send({ cmd: 'subscribe', messageId: 2, subscriptions: [{ topic: 'a', qos: 0, nl: false, rap: false, rh: 0 }] } as mqttPacket.ISubscribePacket);
    assert.deepEqual(((await r.nextPacket()) as mqttPacket.ISubackPacket).granted, [0], 'replacing an existing subscription is not a new one');
    r.close();
  });

  it('announces maximum QoS and retain availability, and holds clients to them', async () => {
    const r = await rawConnected(t.port, 5);
    const ack = r.packets[0] as mqttPacket.IConnackPacket;
    assert.equal(ack.properties?.maximumQoS, 1);
    assert.equal(ack.properties?.retainAvailable, false);
    r.send({ cmd: 'publish', topic: 'x', payload: Buffer.from('r'), qos: 0, retain: true, dup: false } as mqttPacket.IPublishPacket);
    assert.equal(((await r.nextPacket()) as mqttPacket.IDisconnectPacket).reasonCode, 0x9a);
    await r.closed;
    const r2 = await rawConnected(t.port, 5);
    r2.send({ cmd: 'publish', topic: 'x', payload: Buffer.from('q2'), qos: 2, messageId: 1, retain: false, dup: false } as mqttPacket.IPublishPacket);
    assert.equal(((await r2.nextPacket()) as mqttPacket.IDisconnectPacket).reasonCode, 0x9b);
    await r2.closed;
  });
});
