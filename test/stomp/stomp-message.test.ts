/** The STOMP rows of the mapping table: one test per mapped field, both directions. */
import assert from 'node:assert/strict';
import { newHeaders, type StompHeaders } from '../../adapters/stomp/frame.js';
import { StompParser } from '../../adapters/stomp/parser.js';
import { messageToFrame, sendFrameToMessage } from '../../adapters/stomp/stomp-message.js';
import { createMessage, type Message } from '../../core/message.js';

function h(o: Record<string, string>): StompHeaders {
  return Object.assign(newHeaders(), o);
}

function toMessage(headers: Record<string, string>, body = 'b'): Message {
  return sendFrameToMessage(h({ destination: '/topic/t', ...headers }), Buffer.from(body), 't', headers['reply-to'], 'c1', 1_000_000);
}

function frameOf(m: Message, version: '1.0' | '1.1' | '1.2' = '1.2') {
  const wire = messageToFrame(m, { destination: '/topic/t', subscription: 's', messageId: 'c1-1-1', redelivered: false }, version);
  let out: { headers: StompHeaders; body: Buffer } | undefined;
  const p = new StompParser({ maxFrameSize: 1e7, maxHeaders: 1000, maxHeaderLength: 1e6 }, (f) => { out = f; });
  p.version = version;
  p.push(wire);
  return out!;
}

const base = (over: Partial<Message> = {}) => createMessage({ topic: 't', payload: Buffer.from('x'), timestamp: 5, ...over });

describe('STOMP mapping: SEND -> core message', () => {
  it('body -> payload, bytes unchanged', () => {
    const bytes = Buffer.from([0, 1, 2, 255]);
    assert.deepEqual(sendFrameToMessage(h({}), bytes, 't', undefined, 'c').payload, bytes);
  });
  it('content-type -> contentType (text types set the text flag)', () => {
    const m = toMessage({ 'content-type': 'text/plain;charset=utf-8' });
    assert.equal(m.contentType, 'text/plain;charset=utf-8');
    assert.equal(m.text, true);
    assert.equal(toMessage({ 'content-type': 'application/octet-stream' }).text, undefined);
  });
  it('content-encoding -> contentEncoding', () => assert.equal(toMessage({ 'content-encoding': 'gzip' }).contentEncoding, 'gzip'));
  it('persistent:true -> durable', () => {
    assert.equal(toMessage({ persistent: 'true' }).durable, true);
    assert.equal(toMessage({}).durable, false);
  });
  it('reply-to -> replyTo (as rewritten by the caller)', () => assert.equal(toMessage({ 'reply-to': '/queue/r' }).replyTo, '/queue/r'));
  it('correlation-id -> correlationId', () => assert.equal(toMessage({ 'correlation-id': 'c-9' }).correlationId, 'c-9'));
  it('expires (absolute ms; 0 = never) -> expiry', () => {
    assert.equal(toMessage({ expires: '2000000' }).expiry, 2_000_000);
    assert.equal(toMessage({ expires: '0' }).expiry, undefined);
    assert.throws(() => toMessage({ expires: 'soon' }), /invalid expires/);
  });
  it('expiration (relative ms, RabbitMQ) -> expiry', () => assert.equal(toMessage({ expiration: '500' }).expiry, 1_000_500));
  it('priority 0..9 -> priority', () => {
    assert.equal(toMessage({ priority: '7' }).priority, 7);
    assert.throws(() => toMessage({ priority: '12' }), /priority/);
  });
  it('x-message-id (or message-id) -> messageId', () => {
    assert.equal(toMessage({ 'x-message-id': 'm1' }).messageId, 'm1');
    assert.equal(toMessage({ 'message-id': 'm2' }).messageId, 'm2');
  });
  it('x-key -> key', () => assert.deepEqual(toMessage({ 'x-key': 'k1' }).key, Buffer.from('k1')));
  it('timestamp -> timestamp (default: now)', () => {
    assert.equal(toMessage({ timestamp: '42' }).timestamp, 42);
    assert.equal(toMessage({}).timestamp, 1_000_000);
  });
  it('other headers -> user headers with names kept; protocol headers are not user headers', () => {
    const m = toMessage({ 'x-app': 'v', Tenant: 'T', receipt: 'r', transaction: 'tx', 'content-length': '1' });
    assert.deepEqual(m.headers, { 'x-app': 'v', Tenant: 'T' });
  });
  it('source stomp, origin = connection', () => {
    const m = toMessage({});
    assert.equal(m.source, 'stomp');
    assert.equal(m.origin, 'c1');
  });
});

describe('STOMP mapping: core message -> MESSAGE', () => {
  it('payload -> body and content-length (NUL bytes kept)', () => {
    const f = frameOf(base({ payload: Buffer.from([0, 10, 0]) }));
    assert.deepEqual(f.body, Buffer.from([0, 10, 0]));
    assert.equal(f.headers['content-length'], '3');
  });
  it('destination, message-id, subscription, ack (1.2), redelivered', () => {
    const wire = messageToFrame(base(), { destination: '/queue/q', subscription: 's-1', messageId: 'c1-2-3', ack: 'c1-2-3', redelivered: true }, '1.2').toString();
    assert.match(wire, /^MESSAGE\ndestination:\/queue\/q\nmessage-id:c1-2-3\nsubscription:s-1\nack:c1-2-3\nredelivered:true\n/);
  });
  it('contentType -> content-type', () => assert.equal(frameOf(base({ contentType: 'application/json' })).headers['content-type'], 'application/json'));
  it('contentEncoding -> content-encoding', () => assert.equal(frameOf(base({ contentEncoding: 'gzip' })).headers['content-encoding'], 'gzip'));
  it('durable -> persistent:true', () => assert.equal(frameOf(base({ durable: true })).headers.persistent, 'true'));
  it('replyTo -> reply-to (core form /queue/NAME)', () => assert.equal(frameOf(base({ replyTo: '/queue/tmp.stomp.c1.1' })).headers['reply-to'], '/queue/tmp.stomp.c1.1'));
  it('correlationId (string or bytes) -> correlation-id', () => {
    assert.equal(frameOf(base({ correlationId: 'c' })).headers['correlation-id'], 'c');
    assert.equal(frameOf(base({ correlationId: Buffer.from('bin') })).headers['correlation-id'], 'bin');
  });
  it('expiry -> expires', () => assert.equal(frameOf(base({ expiry: 123456 })).headers.expires, '123456'));
  it('priority -> priority', () => assert.equal(frameOf(base({ priority: 3 })).headers.priority, '3'));
  it('timestamp -> timestamp', () => assert.equal(frameOf(base({ timestamp: 99 })).headers.timestamp, '99'));
  it('messageId -> x-message-id', () => assert.equal(frameOf(base({ messageId: 'amqp-1' })).headers['x-message-id'], 'amqp-1'));
  it('key -> x-key', () => assert.equal(frameOf(base({ key: Buffer.from('k') })).headers['x-key'], 'k'));
  it('user headers -> headers with names kept, typed values as text, escaped per version', () => {
    const m = base({ headers: { 'a:b': 'x\ny', n: 5, yes: true, nil: null, raw: Buffer.from('r') } });
    const f = frameOf(m, '1.2');
    assert.equal(f.headers['a:b'], 'x\ny');
    assert.equal(f.headers.n, '5');
    assert.equal(f.headers.yes, 'true');
    assert.equal(f.headers.nil, '');
    assert.equal(f.headers.raw, 'r');
    const f10 = frameOf(m, '1.0');
    assert.equal(f10.headers['a_b'], 'x y');
  });
  it('a user header named like a MESSAGE header does not override it', () => {
    const f = frameOf(base({ headers: { destination: '/queue/evil', 'message-id': 'forged' } }));
    assert.equal(f.headers.destination, '/topic/t');
    assert.equal(f.headers['message-id'], 'c1-1-1');
  });
});
