/**
 * Transfers read are processed when the peer goes away: a producer that writes its transfers and
 * then half-closes (FIN) gets every disposition before the broker closes, and one that closes (or
 * resets) at once still has every transfer stored. Raw sockets, with a store whose writes take a
 * few milliseconds as a disk's do, so the transfers are still being stored when the FIN arrives.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import rhea from 'rhea';
import { MemoryStore } from '../../core/storage/memory-store.js';
import type { JournalEntry } from '../../core/store.js';
import { close, connect, openReceiver, receive, startAmqp, type Harness } from './helpers.js';
import { frame, opening, parse } from './raw.js';
import { eventually } from '../support/index.js';

class SlowStore extends MemoryStore {
  override journal(entries: JournalEntry[]): Promise<void> {
    return new Promise((resolve, reject) => setTimeout(() => super.journal(entries).then(resolve, reject), 5));
  }
}

/** An AMQP message: header(durable) and a data section. */
function durableMessage(body: string): Buffer {
  const header = Buffer.from([0x00, 0x53, 0x70, 0xc0, 0x02, 0x01, 0x41]);
  const b = Buffer.from(body);
  const data = Buffer.concat([Buffer.from([0x00, 0x53, 0x75, 0xa0, b.length]), b]);
  return Buffer.concat([header, data]);
}

interface RawPeer {
  socket: net.Socket;
  out: Buffer[];
  closed: Promise<void>;
}

/** Opens a session and a producer link to `target`, and waits for the broker's credit. */
async function producer(port: number, target: string | null): Promise<RawPeer> {
  const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  const out: Buffer[] = [];
  socket.on('data', (d) => out.push(d));
  socket.on('error', () => undefined);
  const closed = new Promise<void>((r) => socket.on('close', () => r()));
  await new Promise<void>((r) => socket.once('connect', () => r()));
  const t = rhea.types.wrap_described([target === null ? null : rhea.types.wrap_string(target)], 0x29);
  for (const b of [...opening(), frame('attach', { name: 'p', handle: 0, role: false, initial_delivery_count: 0, snd_settle_mode: 0, target: t })]) socket.write(b);
  await eventually(() => parse(Buffer.concat(out)).frames.some((f) => f.name === 'flow' && Number(f.performative.link_credit) > 0));
  return { socket, out, closed };
}

function transfers(n: number, to?: (i: number) => string): Buffer[] {
  return Array.from({ length: n }, (_, i) => {
    let payload = durableMessage(`m${i}`);
    if (to) {
      // properties with `to` (field 2) for the anonymous relay
      const addr = Buffer.from(to(i));
      payload = Buffer.concat([Buffer.from([0x00, 0x53, 0x73, 0xc0, addr.length + 5, 0x03, 0x40, 0x40, 0xa1, addr.length]), addr, payload]);
    }
    return frame('transfer', { handle: 0, delivery_id: i, delivery_tag: Buffer.from([i]), message_format: 0, settled: false }, 0, payload);
  });
}

const dispositions = (p: RawPeer) => parse(Buffer.concat(p.out)).frames.filter((f) => f.name === 'disposition');

describe('amqp: transfers read are processed after the peer goes away', () => {
  let h: Harness;
  before(async () => { h = await startAmqp({}, { store: new SlowStore() }); });
  after(async () => { await h?.stop(); });

  it('40 durable transfers then a half-close: all stored, all settled as accepted, then the broker closes', async () => {
    await h.broker.declareQueue('fin-q', { durable: true });
    const p = await producer(h.port, '/queue/fin-q');
    p.socket.write(Buffer.concat(transfers(40)));
    p.socket.end();
    await p.closed;
    assert.equal(h.broker.getQueue('fin-q')!.messageCount, 40);
    // The dispositions went out before the broker's close: together they settle all 40 ids.
    const settled = new Set<number>();
    for (const d of dispositions(p)) {
      assert.equal(d.performative.settled, true);
      // accepted: the described list with descriptor 0x24
      assert.equal(Number((d.performative.state as { descriptor?: { value: unknown } })?.descriptor?.value), 0x24);
      for (let id = Number(d.performative.first); id <= Number(d.performative.last ?? d.performative.first); id++) settled.add(id);
    }
    assert.equal(settled.size, 40);
    const names = parse(Buffer.concat(p.out)).frames.map((f) => f.name);
    assert.equal(names.at(-1), 'close');
  });

  it('through the anonymous relay to a queue created by the first transfer, then a half-close: all stored in order', async () => {
    const p = await producer(h.port, null);
    p.socket.write(Buffer.concat(transfers(25, () => '/queue/fin-relay')));
    p.socket.end();
    await p.closed;
    assert.equal(h.broker.getQueue('fin-relay')?.messageCount, 25);
    const c = await connect(h.port);
    const r = await openReceiver(c, '/queue/fin-relay');
    const got = (await receive(r, 25)).map((m) => String(m.message.body?.content ?? m.message.body));
    assert.deepEqual(got, Array.from({ length: 25 }, (_, i) => `m${i}`));
    await close(c);
  });

  it('30 durable transfers then a close at once (the peer reads nothing more): all stored', async () => {
    await h.broker.declareQueue('close-q', { durable: true });
    const p = await producer(h.port, '/queue/close-q');
    p.socket.write(Buffer.concat(transfers(30)), () => p.socket.destroy());
    await eventually(() => h.broker.getQueue('close-q')!.messageCount === 30 && h.adapter.connectionCount === 0);
  });
});
