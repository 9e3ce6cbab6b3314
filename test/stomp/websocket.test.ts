/** STOMP over WebSocket at /stomp: @stomp/stompjs (the browser client) and raw ws messages. */
import assert from 'node:assert/strict';
import { Client, Versions, type IMessage } from '@stomp/stompjs';
import { WebSocket } from 'ws';
import { StompParser } from '../../adapters/stomp/parser.js';
import type { StompFrame } from '../../adapters/stomp/frame.js';
import { delay, startStomp, stompjs, subscribed, type StompBroker } from './helpers.js';
import { eventually } from '../support/index.js';

/** Subscribes (confirmed by a receipt) and collects what arrives. */
async function collect(client: Client, destination: string, headers: Record<string, string> = {}): Promise<IMessage[]> {
  const got: IMessage[] = [];
  await subscribed(client, destination, (m) => got.push(m), headers);
  return got;
}

describe('STOMP over WebSocket', function () {
  let s: StompBroker;
  before(async () => { s = await startStomp(); });
  after(async () => { await s.close(); });

  it('negotiates each subprotocol version with stompjs', async () => {
    for (const v of ['1.0', '1.1', '1.2']) {
      let version = '';
      const c = await stompjs(s.wsUrl, { stompVersions: new Versions([v]), onConnect: (f) => { version = f.headers.version; } });
      assert.equal(version, v);
      await c.deactivate();
    }
  });

  it('topic publish/subscribe with wildcards and headers', async () => {
    const c = await stompjs(s.wsUrl);
    const got = await collect(c, '/topic/ws.*.temp');
    const receipt = new Promise<void>((r) => c.watchForReceipt('sub-ok', () => r()));
    c.subscribe('/topic/ws.none', () => undefined, { receipt: 'sub-ok' });
    await receipt;
    c.publish({ destination: '/topic/ws.room.temp', body: '21.5', headers: { 'x-unit': 'C', 'content-type': 'text/plain' } });
    await eventually(() => got.length === 1, { what: 'message' });
    assert.equal(got[0].body, '21.5');
    assert.equal(got[0].headers['x-unit'], 'C');
    assert.equal(got[0].headers.destination, '/topic/ws.room.temp');
    await c.deactivate();
  });

  it('binary bodies with NUL bytes (binaryBody) arrive intact', async () => {
    const c = await stompjs(s.wsUrl);
    const got = await collect(c, '/queue/ws.bin');
    const bytes = new Uint8Array([0, 1, 2, 0, 10, 10, 255, 0]);
    c.publish({ destination: '/queue/ws.bin', binaryBody: bytes, headers: { 'content-type': 'application/octet-stream' } });
    await eventually(() => got.length === 1, { what: 'binary message' });
    assert.deepEqual(Buffer.from(got[0].binaryBody), Buffer.from(bytes));
    await c.deactivate();
  });

  it('client-individual ack and nack (redelivered to another consumer)', async () => {
    const a = await stompjs(s.wsUrl);
    const b = await stompjs(s.wsUrl);
    const gotA: IMessage[] = [];
    const gotB: IMessage[] = [];
    await subscribed(a, '/queue/ws.work', (m) => gotA.push(m), { ack: 'client-individual', 'prefetch-count': '1' });
    await subscribed(b, '/queue/ws.work', (m) => gotB.push(m), { ack: 'client-individual', 'prefetch-count': '1' });
    a.publish({ destination: '/queue/ws.work', body: 'job' });
    await eventually(() => gotA.length + gotB.length === 1, { what: 'delivery' });
    const [first, second] = gotA.length ? [gotA, gotB] : [gotB, gotA];
    first[0].nack();
    await eventually(() => second.length === 1, { what: 'redelivery to the other consumer' });
    assert.equal(second[0].headers.redelivered, 'true');
    second[0].ack();
    await eventually(() => s.b.broker.getQueue('ws.work')!.unackedMessageCount === 0, { what: 'acked' });
    await a.deactivate();
    await b.deactivate();
  });

  it('transactions: SEND and ACK committed together; abort discards', async () => {
    const c = await stompjs(s.wsUrl);
    const got = await collect(c, '/queue/ws.tx', { ack: 'client-individual' });
    const tx = c.begin();
    c.publish({ destination: '/queue/ws.tx', body: 'in-tx', headers: { transaction: tx.id } });
    await delay(100);
    assert.equal(got.length, 0);
    tx.commit();
    await eventually(() => got.length === 1, { what: 'committed message' });
    const tx2 = c.begin();
    got[0].ack({ transaction: tx2.id });
    tx2.abort();
    await delay(50);
    assert.equal(s.b.broker.getQueue('ws.tx')!.unackedMessageCount, 1);
    const tx3 = c.begin();
    got[0].ack({ transaction: tx3.id });
    tx3.commit();
    await eventually(() => s.b.broker.getQueue('ws.tx')!.unackedMessageCount === 0, { what: 'ack committed' });
    await c.deactivate();
  });

  it('temp-queue request/reply between two pages', async () => {
    const server = await stompjs(s.wsUrl);
    server.subscribe('/queue/ws.rpc', (m) => server.publish({ destination: m.headers['reply-to'], body: m.body.toUpperCase(), headers: { 'correlation-id': m.headers['correlation-id'] } }));
    const client = await stompjs(s.wsUrl);
    const replies = await collect(client, '/temp-queue/rpc-replies');
    client.publish({ destination: '/queue/ws.rpc', body: 'hello', headers: { 'reply-to': '/temp-queue/rpc-replies', 'correlation-id': '7' } });
    await eventually(() => replies.length === 1, { what: 'reply' });
    assert.equal(replies[0].body, 'HELLO');
    assert.equal(replies[0].headers['correlation-id'], '7');
    await client.deactivate();
    await server.deactivate();
  });

  it('x-stream-offset replays a stream to a page', async () => {
    await s.b.broker.createStream('ws.stream', { partitions: 1 });
    const p = await stompjs(s.wsUrl);
    for (let i = 0; i < 3; i++) p.publish({ destination: '/topic/ws.stream', body: `r${i}` });
    await eventually(() => (s.b.broker.getStream('ws.stream')!.partitions[0].highWatermark) === 3, { what: 'records stored' });
    const got = await collect(p, '/topic/ws.stream', { 'x-stream-offset': 'first', ack: 'client', 'prefetch-count': '10' });
    await eventually(() => got.length === 3, { what: 'replay' });
    assert.deepEqual(got.map((m) => m.body), ['r0', 'r1', 'r2']);
    assert.deepEqual(got.map((m) => m.headers['x-stream-offset']), ['0', '1', '2']);
    await p.deactivate();
  });

  it('heart-beats both ways keep an idle connection open', async () => {
    let closed = false;
    const c = await stompjs(s.wsUrl, { heartbeatIncoming: 1000, heartbeatOutgoing: 1000, onWebSocketClose: () => { closed = true; } });
    await delay(2500);
    assert.equal(closed, false);
    await c.deactivate();
  });

  it('a STOMP ERROR reaches stompjs (access to a missing /amq/queue)', async () => {
    const c = await stompjs(s.wsUrl);
    const err = new Promise<string>((resolve) => { c.onStompError = (f) => resolve(f.headers.message); });
    c.subscribe('/amq/queue/ws.missing', () => undefined);
    assert.match(await err, /no queue/);
    await c.deactivate();
  });

  describe('raw WebSocket messages', () => {
    function open(protocol = 'v12.stomp'): Promise<{ ws: WebSocket; frames: StompFrame[]; binary: boolean[] }> {
      return new Promise((resolve, reject) => {
        const ws = new WebSocket(s.wsUrl, [protocol]);
        const frames: StompFrame[] = [];
        const binary: boolean[] = [];
        const parser = new StompParser({ maxFrameSize: 1e7, maxHeaders: 1000, maxHeaderLength: 1e6 }, (f) => {
          if (f.command === 'CONNECTED') parser.version = f.headers.version as never;
          frames.push(f);
        });
        ws.on('message', (d: Buffer, isBinary) => { binary.push(isBinary); parser.push(d); });
        ws.on('open', () => resolve({ ws, frames, binary }));
        ws.on('error', reject);
      });
    }

    it('several frames in one WebSocket message', async () => {
      const { ws, frames } = await open();
      ws.send('CONNECT\naccept-version:1.2\nhost:/\n\n\0SUBSCRIBE\nid:1\ndestination:/queue/ws.multi\n\n\0SEND\ndestination:/queue/ws.multi\n\none\0SEND\ndestination:/queue/ws.multi\n\ntwo\0');
      await eventually(() => frames.filter((f) => f.command === 'MESSAGE').length === 2, { what: 'two messages' });
      assert.equal(frames[0].command, 'CONNECTED');
      assert.deepEqual(frames.filter((f) => f.command === 'MESSAGE').map((f) => f.body.toString()), ['one', 'two']);
      ws.close();
    });

    it('one frame split over several WebSocket messages; text frames for UTF-8, binary for other bytes', async () => {
      const { ws, frames, binary } = await open('v11.stomp');
      ws.send('CONNECT\naccept-version:1.1\n\n\0');
      ws.send('SUBSCRIBE\nid:1\ndesti');
      ws.send('nation:/queue/ws.split\n\n\0SEND\ndestination:/queue/ws.split\ncontent-length:2\n\n');
      ws.send(Buffer.from([0xff, 0x00, 0x00]));
      ws.send('SEND\ndestination:/queue/ws.split\n\ntext\0');
      await eventually(() => frames.filter((f) => f.command === 'MESSAGE').length === 2, { what: 'two messages' });
      const ms = frames.filter((f) => f.command === 'MESSAGE');
      assert.deepEqual(ms[0].body, Buffer.from([0xff, 0x00]));
      assert.equal(ms[1].body.toString(), 'text');
      assert.deepEqual(binary, [false, true, false]);
      ws.close();
    });

    it('bad input over WebSocket: ERROR then close', async () => {
      const { ws, frames } = await open();
      const closed = new Promise<void>((r) => ws.on('close', () => r()));
      ws.send('NOPE\n\n\0');
      await closed;
      assert.equal(frames[0].command, 'ERROR');
    });
  });
});
