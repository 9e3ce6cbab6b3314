import assert from 'node:assert/strict';
import mqttPacket from 'mqtt-packet';
import { createParser, encodeAck, encodePublish, encodePublishProps, Framer, type FrameError, type Packet, type PacketFlags } from '../../adapters/mqtt/codec.js';
import { checkPublishTopic, parseFilter, sharedQueueName, swapSeparators } from '../../adapters/mqtt/topics.js';
import { resolveMqttSettings, MQTT_DEFAULTS } from '../../adapters/mqtt/config.js';

describe('mqtt names', () => {
  it('swaps / and . both ways so dotted topics round-trip', () => {
    assert.equal(swapSeparators('a/b/c'), 'a.b.c');
    assert.equal(swapSeparators('a.b.c'), 'a/b/c');
    assert.equal(swapSeparators('v1.2/x'), 'v1/2.x');
    assert.equal(swapSeparators(swapSeparators('x/y.z//w')), 'x/y.z//w');
    assert.equal(swapSeparators('plain'), 'plain');
  });

  it('maps filters to core patterns', () => {
    assert.deepEqual(parseFilter('a/+/#'), { filter: 'a/+/#', topicFilter: 'a/+/#', pattern: 'a.*.#' });
    assert.deepEqual(parseFilter('#'), { filter: '#', topicFilter: '#', pattern: '#' });
    assert.deepEqual(parseFilter('+'), { filter: '+', topicFilter: '+', pattern: '*' });
    assert.equal((parseFilter('a.b/+') as { pattern: string }).pattern, 'a/b.*');
    assert.equal((parseFilter('$SYS/#') as { pattern: string }).pattern, '$SYS.#');
  });

  it('parses shared subscriptions', () => {
    const p = parseFilter('$share/g1/sensors/+/temp');
    assert.deepEqual(p, { filter: '$share/g1/sensors/+/temp', topicFilter: 'sensors/+/temp', pattern: 'sensors.*.temp', group: 'g1' });
    assert.equal(sharedQueueName('g1', 'sensors.*.temp'), 'mqtt.share.g1.sensors.*.temp');
  });

  it('refuses invalid filters', () => {
    for (const f of ['', 'a/#/b', 'a/b#', 'a/+b', '$share/g', '$share//a', '$share/g/', '$share/a+b/x']) assert.equal(parseFilter(f), 'invalid', f);
    assert.equal(parseFilter('a/*'), 'unsupported');
    assert.equal(parseFilter(Array(101).fill('x').join('/')), 'unsupported');
  });

  it('checks publish topics', () => {
    assert.equal(checkPublishTopic('a/b'), null);
    assert.equal(checkPublishTopic(''), 'empty');
    assert.equal(checkPublishTopic('a/+'), 'wildcard');
    assert.equal(checkPublishTopic('a/#'), 'wildcard');
    assert.equal(checkPublishTopic('a/*'), 'unsupported');
    assert.equal(checkPublishTopic('a\u0000b'), 'nul');
  });
});

describe('mqtt framer', () => {
  function frame(max = 1000) {
    const got: Buffer[] = [];
    const errors: FrameError[] = [];
    const f = new Framer(() => max, (c, start, _body, end) => got.push(Buffer.from(c.subarray(start, end))), (e) => errors.push(e));
    return { f, got, errors };
  }
  const publish = (n: number) => mqttPacket.generate({ cmd: 'publish', topic: 't', payload: Buffer.alloc(n, 1), qos: 0, dup: false, retain: false });

  it('passes whole packets, across any chunking', () => {
    const bytes = Buffer.concat([publish(10), publish(300), publish(0), mqttPacket.generate({ cmd: 'pingreq' })]);
    for (const size of [1, 2, 3, 7, 64, bytes.length]) {
      const { f, got, errors } = frame();
      for (let i = 0; i < bytes.length; i += size) f.push(bytes.subarray(i, i + size));
      assert.deepEqual(Buffer.concat(got), bytes);
      assert.equal(errors.length, 0);
      assert.equal(f.buffered, 0);
    }
  });

  it('refuses an oversize packet from its header, before buffering it', () => {
    const { f, got, errors } = frame(100);
    const big = publish(1000);
    f.push(big.subarray(0, 4));
    assert.equal(got.length, 0);
    assert.equal(errors[0].kind, 'oversize');
  });

  it('refuses a remaining length longer than four bytes', () => {
    const { f, errors } = frame(1 << 30);
    f.push(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]));
    assert.deepEqual(errors[0], { kind: 'malformed', reason: 'invalid remaining length' });
  });
});

describe('mqtt parser checks', () => {
  function parse(bytes: Buffer): Array<Packet & PacketFlags> {
    const out: Array<Packet & PacketFlags> = [];
    createParser((p) => out.push(p), () => undefined).parse(bytes);
    return out;
  }
  it('flags invalid UTF-8 and U+0000 in strings', () => {
    const good = mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 0, clientId: 'ok\ufffdok' });
    assert.equal(parse(good)[0].badString, undefined);
    const bad = Buffer.from(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 0, clientId: 'abcd' }));
    bad[bad.length - 2] = 0xff;
    assert.equal(parse(bad)[0].badString, true);
    const nul = mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 0, clientId: 'a\u0000b' });
    assert.equal(parse(nul)[0].badString, true);
  });
});

describe('mqtt encoders', () => {
  function parseWith(version: number, bytes: Buffer): Packet {
    const p = mqttPacket.parser({ protocolVersion: version });
    let out: Packet | undefined;
    p.on('packet', (x) => (out = x));
    p.parse(bytes);
    return out!;
  }

  it('PUBLISH 3.1.1 as mqtt-packet reads it', () => {
    const { buf, idOffset } = encodePublish(Buffer.from('a/b'), Buffer.from('xyz'), 1, true, true, 42, null);
    const p = parseWith(4, buf) as mqttPacket.IPublishPacket;
    assert.equal(p.topic, 'a/b');
    assert.equal(p.messageId, 42);
    assert.equal(p.qos, 1);
    assert.equal(p.retain, true);
    assert.equal(p.dup, true);
    assert.equal(p.payload.toString(), 'xyz');
    assert.equal(buf.readUInt16BE(idOffset), 42);
  });

  it('PUBLISH 5 with every property', () => {
    const props = encodePublishProps({
      payloadFormatIndicator: true, messageExpiryInterval: 30, contentType: 'text/plain', responseTopic: 'r/t',
      correlationData: Buffer.from([1, 2]), subscriptionIdentifiers: [5, 300], topicAlias: 3, userProperties: [['k', 'v'], ['k', 'w'], ['é', 'ü']],
    });
    const { buf } = encodePublish(Buffer.from('x'), Buffer.alloc(200, 7), 2, false, false, 65535, props);
    const p = parseWith(5, buf) as mqttPacket.IPublishPacket;
    assert.equal(p.messageId, 65535);
    assert.equal(p.payload.length, 200);
    assert.deepEqual({ ...p.properties, userProperties: { ...p.properties!.userProperties } }, {
      payloadFormatIndicator: true, messageExpiryInterval: 30, contentType: 'text/plain', responseTopic: 'r/t',
      correlationData: Buffer.from([1, 2]), subscriptionIdentifier: [5, 300], topicAlias: 3, userProperties: { k: ['v', 'w'], é: 'ü' },
    });
  });

  it('acknowledgements', () => {
    const ack = parseWith(4, encodeAck('puback', 7, false));
    assert.equal(ack.cmd, 'puback');
    assert.equal(ack.messageId, 7);
    const rel = parseWith(5, encodeAck('pubrel', 9, true, 0x92)) as mqttPacket.IPubrelPacket;
    assert.equal(rel.cmd, 'pubrel');
    assert.equal(rel.reasonCode, 0x92);
    const rec = parseWith(5, encodeAck('pubrec', 9, true, 0x87, 'no')) as mqttPacket.IPubrecPacket;
    assert.equal(rec.reasonCode, 0x87);
    assert.equal(rec.properties?.reasonString, 'no');
  });
});

describe('mqtt settings', () => {
  it('merges defaults < limits < mqtt section', () => {
    const s = resolveMqttSettings({ limits: { maxFrameBytes: 2048, maxConnections: 5 }, mqtt: { port: 1883, maxConnections: 7, maxQos: 1 } });
    assert.equal(s.maxPacketSize, 2048);
    assert.equal(s.maxConnections, 7);
    // limits.maxConnections limits sockets (the ConnectionGate), not this CONNACK-level limit.
    assert.equal(resolveMqttSettings({ limits: { maxConnections: 5 } }).maxConnections, -1);
    assert.equal(s.maxQos, 1);
    assert.equal(s.receiveMaximum, MQTT_DEFAULTS.receiveMaximum);
  });
  it('names the key of a bad value', () => {
    assert.throws(() => resolveMqttSettings({ mqtt: { receiveMaximum: 0 } }), /mqtt\.receiveMaximum: must be an integer from 1 to 65535 \(got 0\)/);
    assert.throws(() => resolveMqttSettings({ mqtt: { maxInflights: 1 } }), /^ConfigError: mqtt\.maxInflights: unknown key/);
    assert.throws(() => resolveMqttSettings({ mqtt: { retainAvailable: 'yes' } }), /mqtt\.retainAvailable/);
  });
});
