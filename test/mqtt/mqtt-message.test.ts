/** One test per row of the MQTT <-> core mapping table (docs/mqtt.md). */
import assert from 'node:assert/strict';
import { createMessage } from '../../core/message.js';
import { ANN_QOS, ANN_RETAIN, ANN_USER_PROPERTIES, messageQos, messageToProps, publishToMessage, replyToTopic } from '../../adapters/mqtt/mqtt-message.js';

const NOW = 1_700_000_000_000;

describe('mqtt <-> core mapping', () => {
  it('topic: the caller passes the core name; payload bytes are kept (copied)', () => {
    const payload = Buffer.from([0, 1, 2, 255]);
    const m = publishToMessage('a.b', payload, 0, false, undefined, 'c1', NOW);
    assert.equal(m.topic, 'a.b');
    assert.deepEqual(m.payload, payload);
    payload[0] = 9;
    assert.equal(m.payload[0], 0);
    assert.equal(m.source, 'mqtt');
    assert.equal(m.timestamp, NOW);
  });

  it('QoS: 0 -> not durable, 1 -> durable, 2 -> durable + mqtt.qos', () => {
    assert.equal(publishToMessage('t', Buffer.alloc(0), 0, false, undefined, 'c', NOW).durable, false);
    const q1 = publishToMessage('t', Buffer.alloc(0), 1, false, undefined, 'c', NOW);
    assert.equal(q1.durable, true);
    assert.equal(messageQos(q1), 1);
    const q2 = publishToMessage('t', Buffer.alloc(0), 2, false, undefined, 'c', NOW);
    assert.equal(q2.annotations?.[ANN_QOS], 2);
    assert.equal(messageQos(q2), 2);
    assert.equal(messageQos(createMessage({ topic: 't', payload: Buffer.alloc(0), durable: true })), 1);
    assert.equal(messageQos(createMessage({ topic: 't', payload: Buffer.alloc(0) })), 0);
  });

  it('retain flag -> annotation mqtt.retain', () => {
    assert.equal(publishToMessage('t', Buffer.alloc(1), 0, true, undefined, 'c', NOW).annotations?.[ANN_RETAIN], true);
  });

  it('user properties <-> headers (repeated names kept in order for MQTT)', () => {
    const m = publishToMessage('t', Buffer.alloc(0), 0, false, { userProperties: { a: '1', b: ['x', 'y'] } }, 'c', NOW);
    assert.deepEqual(m.headers, { a: '1', b: 'x' });
    assert.equal(m.annotations?.[ANN_USER_PROPERTIES], JSON.stringify([['a', '1'], ['b', 'x'], ['b', 'y']]));
    assert.deepEqual(messageToProps(m, NOW)?.userProperties, [['a', '1'], ['b', 'x'], ['b', 'y']]);
    const fromCore = createMessage({ topic: 't', payload: Buffer.alloc(0), headers: { n: 5, t: true, s: 'str', nul: null, bin: Buffer.from('hi') } });
    assert.deepEqual(messageToProps(fromCore, NOW)?.userProperties, [['n', '5'], ['t', 'true'], ['s', 'str'], ['nul', ''], ['bin', 'hi']]);
  });

  it('content type <-> contentType', () => {
    const m = publishToMessage('t', Buffer.alloc(0), 0, false, { contentType: 'application/json' }, 'c', NOW);
    assert.equal(m.contentType, 'application/json');
    assert.equal(messageToProps(m, NOW)?.contentType, 'application/json');
  });

  it('payload format indicator 1 <-> text', () => {
    const m = publishToMessage('t', Buffer.from('x'), 0, false, { payloadFormatIndicator: true }, 'c', NOW);
    assert.equal(m.text, true);
    assert.equal(messageToProps(m, NOW)?.payloadFormatIndicator, true);
    assert.equal(messageToProps(publishToMessage('t', Buffer.from('x'), 0, false, { payloadFormatIndicator: false }, 'c', NOW), NOW), undefined);
  });

  it('correlation data <-> correlationId (a string one from other protocols becomes its UTF-8 bytes)', () => {
    const m = publishToMessage('t', Buffer.alloc(0), 0, false, { correlationData: Buffer.from([9, 8]) }, 'c', NOW);
    assert.deepEqual(m.correlationId, Buffer.from([9, 8]));
    assert.deepEqual(messageToProps(m, NOW)?.correlationData, Buffer.from([9, 8]));
    assert.deepEqual(messageToProps(createMessage({ topic: 't', payload: Buffer.alloc(0), correlationId: 'abc' }), NOW)?.correlationData, Buffer.from('abc'));
  });

  it('response topic <-> replyTo /topic/<core name>; /queue/x has no MQTT form', () => {
    const m = publishToMessage('t', Buffer.alloc(0), 0, false, { responseTopic: 'replies/v1.0' }, 'c', NOW);
    assert.equal(m.replyTo, '/topic/replies.v1/0');
    assert.equal(messageToProps(m, NOW)?.responseTopic, 'replies/v1.0');
    assert.equal(replyToTopic('/queue/jobs'), undefined);
    assert.equal(replyToTopic('xmpp:someone@example.com'), undefined);
  });

  it('message expiry interval (s) <-> expiry (absolute ms), sent as what is left', () => {
    const m = publishToMessage('t', Buffer.alloc(0), 0, false, { messageExpiryInterval: 60 }, 'c', NOW);
    assert.equal(m.expiry, NOW + 60_000);
    assert.equal(messageToProps(m, NOW + 20_500)?.messageExpiryInterval, 40);
    assert.equal(messageToProps(m, NOW + 59_999)?.messageExpiryInterval, 1);
  });

  it('client id -> origin (no local)', () => {
    assert.equal(publishToMessage('t', Buffer.alloc(0), 0, false, undefined, 'client-7', NOW).origin, 'client-7');
  });

  it('fields MQTT has no place for are not sent (message id, priority, key, timestamp)', () => {
    const props = messageToProps(createMessage({ topic: 't', payload: Buffer.alloc(0), messageId: 'm1', priority: 9, key: Buffer.from('k') }), NOW);
    assert.equal(props, undefined);
  });
});
