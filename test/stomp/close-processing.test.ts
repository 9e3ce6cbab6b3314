/**
 * Frames read are processed even when the client goes away: pipelined SENDs followed by a
 * half-close (FIN) or a close are all stored, and DISCONNECT's RECEIPT comes after them.
 * Raw sockets, as the clients that found the loss. Each test uses a queue that does not exist yet
 * and a store whose writes take a few milliseconds, as a disk's do: the first SEND declares the
 * queue, so the frames behind it are still waiting in the connection when the FIN or close arrives.
 */
import assert from 'node:assert/strict';
import { connect as netConnect, type Socket } from 'node:net';
import { StompParser } from '../../adapters/stomp/parser.js';
import type { StompFrame } from '../../adapters/stomp/frame.js';
import { MemoryStore } from '../../core/storage/memory-store.js';
import type { JournalEntry } from '../../core/store.js';
import { eventually, TEST_HOST } from '../support/index.js';
import { RawStomp, startStomp, type StompBroker } from './helpers.js';

/** A store in memory whose journal writes complete after a short delay, like a disk's. */
class SlowStore extends MemoryStore {
  override journal(entries: JournalEntry[]): Promise<void> {
    return new Promise((resolve, reject) => setTimeout(() => super.journal(entries).then(resolve, reject), 5));
  }
}

let seq = 0;
const uniq = (p: string) => `${p}-${process.pid}-${++seq}`;

function sendFrame(destination: string, body: string, extra = ''): string {
  return `SEND\ndestination:${destination}\npersistent:true\n${extra}\n${body}\0`;
}

/** A raw client that collects frames, and resolves `closed` when the server has closed too. */
function rawClient(port: number): Promise<{ socket: Socket; frames: StompFrame[]; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const frames: StompFrame[] = [];
    const parser = new StompParser({ maxFrameSize: 1 << 20, maxHeaders: 100, maxHeaderLength: 4096 }, (f) => frames.push(f));
    const socket = netConnect({ host: TEST_HOST, port, allowHalfOpen: true }, () => resolve({ socket, frames, closed }));
    socket.on('data', (d) => parser.push(d));
    socket.once('error', reject);
    const closed = new Promise<void>((r) => socket.on('close', () => r()));
  });
}

async function connected(port: number) {
  const c = await rawClient(port);
  c.socket.write('CONNECT\naccept-version:1.2\nhost:/\n\n\0');
  await eventually(() => c.frames.length > 0, { what: 'CONNECTED' });
  assert.equal(c.frames.shift()!.command, 'CONNECTED');
  return c;
}

/** Reads `n` messages from queue `q` with a real subscription, acknowledging each. */
async function consumeAll(s: StompBroker, q: string, n: number): Promise<string[]> {
  const c = await RawStomp.connect(s.port);
  await c.sendWithReceipt('SUBSCRIBE', { id: '1', destination: `/queue/${q}`, ack: 'client-individual' });
  const bodies: string[] = [];
  for (let i = 0; i < n; i++) {
    const m = await c.expect('MESSAGE');
    bodies.push(m.body.toString());
    c.send('ACK', { id: m.headers.ack });
  }
  await c.disconnect();
  return bodies;
}

describe('STOMP: frames read are processed after the client half-closes or closes', function () {
  this.timeout(60000);
  let s: StompBroker;
  before(async () => { s = await startStomp({ store: new SlowStore() }); });
  after(async () => s?.close());

  it('25 persistent SENDs + DISCONNECT with receipt + FIN: RECEIPT after all 25 are stored, then all 25 are consumed', async () => {
    const q = uniq('halfclose');
    const c = await connected(s.port);
    let wire = '';
    for (let i = 0; i < 25; i++) wire += sendFrame(`/queue/${q}`, `m${i}`);
    wire += 'DISCONNECT\nreceipt:bye\n\n\0';
    let storedAtReceipt = -1;
    c.socket.on('data', () => {
      if (storedAtReceipt < 0 && c.frames.some((f) => f.command === 'RECEIPT')) storedAtReceipt = s.b.broker.getQueue(q)?.messageCount ?? 0;
    });
    c.socket.end(wire);
    await c.closed;
    const receipt = c.frames.find((f) => f.command === 'RECEIPT');
    assert.ok(receipt, `RECEIPT expected, got ${c.frames.map((f) => f.command).join(',') || 'nothing'}`);
    assert.equal(receipt.headers['receipt-id'], 'bye');
    assert.equal(storedAtReceipt, 25, 'every earlier SEND stored when the RECEIPT was sent');
    const bodies = await consumeAll(s, q, 25);
    assert.deepEqual(bodies, Array.from({ length: 25 }, (_, i) => `m${i}`));
  });

  it('1,000 pipelined SENDs with receipts then FIN (no DISCONNECT): all stored, every receipt sent, then the server closes', async () => {
    const q = uniq('fin');
    const c = await connected(s.port);
    let wire = '';
    for (let i = 0; i < 1000; i++) wire += sendFrame(`/queue/${q}`, `m${i}`, `receipt:r${i}\n`);
    c.socket.end(wire);
    await c.closed;
    assert.equal(s.b.broker.getQueue(q)?.messageCount, 1000);
    assert.equal(c.frames.filter((f) => f.command === 'RECEIPT').length, 1000);
  });

  it('1,000 pipelined SENDs then a full close (destroy once written): all 1,000 are stored', async () => {
    const q = uniq('close');
    const c = await connected(s.port);
    let wire = '';
    for (let i = 0; i < 1000; i++) wire += sendFrame(`/queue/${q}`, `m${i}`);
    await new Promise<void>((resolve) => c.socket.write(wire, () => resolve()));
    c.socket.destroy();
    await eventually(() => s.b.broker.getQueue(q)?.messageCount === 1000, { timeout: 20000, what: 'all 1,000 stored' });
  });

  it('1,000 pipelined SENDs with receipts then a full close before reading any: all 1,000 are stored', async () => {
    const q = uniq('close-receipts');
    const c = await connected(s.port);
    let wire = '';
    for (let i = 0; i < 1000; i++) wire += sendFrame(`/queue/${q}`, `m${i}`, `receipt:r${i}\n`);
    await new Promise<void>((resolve) => c.socket.write(wire, () => resolve()));
    c.socket.destroy();
    await eventually(() => s.b.broker.getQueue(q)?.messageCount === 1000, { timeout: 20000, what: 'all 1,000 stored' });
  });

  it('CONNECT pipelined with SENDs and a FIN: the SENDs wait for the login, then are stored', async () => {
    const q = uniq('pipelined-connect');
    const c = await rawClient(s.port);
    let wire = 'CONNECT\naccept-version:1.2\nhost:/\n\n\0';
    for (let i = 0; i < 10; i++) wire += sendFrame(`/queue/${q}`, `m${i}`);
    wire += 'DISCONNECT\nreceipt:done\n\n\0';
    c.socket.end(wire);
    await c.closed;
    assert.deepEqual(c.frames.map((f) => f.command), ['CONNECTED', 'RECEIPT']);
    assert.equal(s.b.broker.getQueue(q)?.messageCount, 10);
  });

  it('a connection keeps working after another one half-closed (canary)', async () => {
    const q = uniq('canary');
    const c = await RawStomp.connect(s.port);
    await c.sendWithReceipt('SEND', { destination: `/queue/${q}` }, 'ok');
    await c.disconnect();
    assert.deepEqual(await consumeAll(s, q, 1), ['ok']);
  });
});
