/**
 * One small real exchange per protocol, run against the fuzzed broker after each batch: it must
 * still answer. Each resolves or rejects within a few seconds.
 */
import { createRequire } from 'node:module';
import { connect, type Socket } from 'node:net';
import { WebSocket } from 'ws';
import { encodeFrame } from '../adapters/stomp/frame.js';
import { kafkaRequest } from './targets/kafka.js';

const HOST = '127.0.0.1';
const TIMEOUT_MS = 5000;

/** Sends `steps` in turn over one socket; each waits for its `expect` text (latin1) in the input. */
function exchange(port: number, steps: Array<{ send: Buffer; expect: string | ((b: Buffer) => boolean) }>): Promise<void> {
  return new Promise((resolve, reject) => {
    const s: Socket = connect(port, HOST);
    let got = Buffer.alloc(0);
    let i = 0;
    const timer = setTimeout(() => finish(new Error(`no answer to step ${i + 1}; got ${got.toString('latin1').slice(0, 200)}`)), TIMEOUT_MS);
    const finish = (err?: Error): void => {
      clearTimeout(timer);
      s.destroy();
      if (err) reject(err);
      else resolve();
    };
    const check = (): void => {
      while (i < steps.length) {
        const e = steps[i].expect;
        const ok = typeof e === 'string' ? got.toString('latin1').includes(e) : e(got);
        if (!ok) return;
        got = Buffer.alloc(0);
        i++;
        if (i < steps.length) s.write(steps[i].send);
      }
      finish();
    };
    s.on('connect', () => s.write(steps[0].send));
    s.on('data', (d) => { got = Buffer.concat([got, d]); check(); });
    s.on('error', (err) => finish(err));
    s.on('close', () => { if (i < steps.length) finish(new Error(`closed at step ${i + 1}`)); });
  });
}

const MQTT_CONNECT = Buffer.from([0x10, 0x13, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, 0x02, 0x00, 0x3c, 0x00, 0x07, ...Buffer.from('canary1')]);

export function mqttCanary(port: number): Promise<void> {
  const publish = Buffer.from([0x32, 0x0a, 0x00, 0x03, 0x63, 0x2f, 0x61, 0x00, 0x01, 0x68, 0x69, 0x21]);
  return exchange(port, [
    { send: MQTT_CONNECT, expect: (b) => b.length >= 4 && b[0] === 0x20 && b[3] === 0 },
    { send: publish, expect: (b) => b.length >= 4 && b[0] === 0x40 },
  ]);
}

export function stompCanary(port: number): Promise<void> {
  return exchange(port, [
    { send: encodeFrame('CONNECT', { 'accept-version': '1.2', host: '/' }, undefined, null), expect: 'CONNECTED' },
    { send: encodeFrame('SEND', { destination: '/queue/canary', receipt: 'c1' }, 'hi', '1.2'), expect: 'RECEIPT' },
  ]);
}

export function kafkaCanary(port: number): Promise<void> {
  const answered = (b: Buffer): boolean => b.length >= 8 && b.readInt32BE(0) + 4 <= b.length && b.readInt32BE(4) === 1;
  return exchange(port, [
    { send: kafkaRequest(18, 0), expect: answered },
    { send: kafkaRequest(3, 1), expect: answered },
  ]);
}

export function xmppCanary(port: number): Promise<void> {
  const open = `<?xml version='1.0'?><stream:stream to='localhost' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>`;
  return exchange(port, [{ send: Buffer.from(open), expect: 'stream:features' }]);
}

interface RheaContainer {
  connect(o: Record<string, unknown>): {
    on(e: string, fn: (ctx: unknown) => void): void;
    open_sender(addr: string): { send(m: unknown): void };
    close(): void;
  };
}
const require = createRequire(import.meta.url);

export function amqpCanary(port: number): Promise<void> {
  const rhea = require('rhea') as { create_container(o: object): RheaContainer };
  return new Promise((resolve, reject) => {
    const conn = rhea.create_container({ id: 'canary' }).connect({ host: HOST, port, reconnect: false });
    const timer = setTimeout(() => done(new Error('no AMQP acceptance')), TIMEOUT_MS);
    let settled = false;
    const done = (err?: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      try { conn.close(); } catch { /* already closed */ }
      if (err) reject(err);
      else resolve();
    };
    conn.on('connection_open', () => conn.open_sender('canary-q'));
    conn.on('sendable', (ctx) => (ctx as { sender: { send(m: unknown): void; sendable(): boolean } }).sender.send({ body: 'hi' }));
    conn.on('accepted', () => done());
    for (const e of ['rejected', 'connection_error', 'disconnected', 'error']) conn.on(e, () => done(new Error(`AMQP canary: ${e}`)));
  });
}

export async function httpCanary(port: number): Promise<void> {
  for (const path of ['/healthz', '/api/overview']) {
    const res = await fetch(`http://${HOST}:${port}${path}`, { signal: AbortSignal.timeout(TIMEOUT_MS) });
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`GET ${path}: ${res.status}`);
  }
  await new Promise<void>((resolve, reject) => {
    const ws = new WebSocket(`ws://${HOST}:${port}/mqtt`, 'mqtt');
    const timer = setTimeout(() => { ws.terminate(); reject(new Error('no CONNACK over WebSocket')); }, TIMEOUT_MS);
    ws.on('open', () => ws.send(MQTT_CONNECT));
    ws.on('message', (d: Buffer) => {
      clearTimeout(timer);
      ws.close();
      if (d[0] === 0x20) resolve();
      else reject(new Error('WebSocket MQTT: not a CONNACK'));
    });
    ws.on('error', (err) => { clearTimeout(timer); reject(err); });
  });
}
