/**
 * Stanzas read are handled even when the client goes away: messages written right before
 * `</stream:stream>` and a FIN, before a FIN alone, or before a close (TCP or WebSocket) are all
 * delivered (stored offline for a recipient who is not online), in order. A presence subscription goes first: its
 * roster write makes the messages behind it wait in the connection when the end arrives.
 */
import assert from 'node:assert/strict';
import { MemoryStore } from '../../core/storage/memory-store.js';
import type { JournalEntry } from '../../core/store.js';
import { collect, type Harness, login, rawLogin, startXmpp, stopAll } from './helpers.js';
import type { XmlElement } from '@xmpp/client';
import { WebSocket } from 'ws';

/** A raw RFC 7395 client: logs in with PLAIN, binds, and collects what the server sends. */
async function wsLogin(port: number, user: string, password: string): Promise<{ ws: WebSocket; text: () => string }> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/xmpp`, 'xmpp');
  let text = '';
  const waiters: Array<() => void> = [];
  ws.on('message', (d) => { text += d.toString(); for (const w of waiters.splice(0)) w(); });
  await new Promise<void>((resolve, reject) => { ws.once('open', () => resolve()); ws.once('error', reject); });
  const waitFor = async (re: RegExp, from: number) => {
    while (!re.test(text.slice(from))) await new Promise<void>((r) => waiters.push(r));
  };
  const open = `<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='localhost' version='1.0'/>`;
  let mark = text.length;
  ws.send(open);
  await waitFor(/<\/stream:features>/, mark);
  mark = text.length;
  ws.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from(`\0${user}\0${password}`).toString('base64')}</auth>`);
  await waitFor(/<success/, mark);
  mark = text.length;
  ws.send(open);
  await waitFor(/<bind[\s\S]*<\/stream:features>/, mark);
  mark = text.length;
  ws.send(`<iq xmlns='jabber:client' type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>ws</resource></bind></iq>`);
  await waitFor(/<jid>/, mark);
  return { ws, text: () => text };
}

/** A store whose writes take a few milliseconds, as a disk's do (the roster write waits on one). */
class SlowStore extends MemoryStore {
  override journal(entries: JournalEntry[]): Promise<void> {
    return new Promise((resolve, reject) => setTimeout(() => super.journal(entries).then(resolve, reject), 5));
  }
}

const burst = (to: string, n: number, tag: string) => `<presence type='subscribe' to='${to}'/>`
  + Array.from({ length: n }, (_, i) => `<message to='${to}' type='chat' id='${tag}${i}'><body>${tag} ${i}</body></message>`).join('');

const bodies = (els: XmlElement[]) => els.map((e) => e.getChildText('body'));
const expected = (tag: string, n: number) => Array.from({ length: n }, (_, i) => `${tag} ${i}`);

describe('xmpp: stanzas read are handled after the client goes away', () => {
  let h: Harness;
  before(async () => {
    h = await startXmpp({ store: new SlowStore(), auth: { users: { alice: 'alice-pw', bob: 'bob-pw', carol: 'carol-pw', dave: 'dave-pw', erin: 'erin-pw' } } });
  });
  after(async () => {
    await h?.close();
  });

  async function offlineDelivered(user: string, tag: string, n: number): Promise<void> {
    const c = await login(h.port, user, `${user}-pw`);
    try {
      const got = collect(c, (s) => s.is('message') && (s.getChildText('body') ?? '').startsWith(tag), n);
      await c.send((await import('@xmpp/client')).xml('presence'));
      assert.deepEqual(bodies(await got), expected(tag, n));
    } finally {
      await stopAll(c);
    }
  }

  it('20 messages, </stream:stream> and FIN in one write: all stored offline in order, the stream closed properly', async () => {
    const a = await rawLogin(h.port, 'alice', 'alice-pw');
    const mark = a.buf.length;
    a.socket.end(`${burst('bob@localhost', 20, 'end')}</stream:stream>`);
    await a.waitClose();
    assert.match(a.buf.slice(mark), /<\/stream:stream>/);
    await offlineDelivered('bob', 'end', 20);
  });

  it('20 messages then FIN without closing the stream: all stored, then the broker closes the stream', async () => {
    const a = await rawLogin(h.port, 'alice', 'alice-pw', 'PLAIN', 'fin');
    const mark = a.buf.length;
    a.socket.end(burst('carol@localhost', 20, 'fin'));
    await a.waitClose();
    assert.match(a.buf.slice(mark), /<\/stream:stream>/);
    await offlineDelivered('carol', 'fin', 20);
  });

  it('20 messages then a close at once: all stored', async () => {
    const a = await rawLogin(h.port, 'alice', 'alice-pw', 'PLAIN', 'rst');
    a.socket.write(burst('dave@localhost', 20, 'rst'), () => a.destroy());
    await a.waitClose();
    await offlineDelivered('dave', 'rst', 20);
  });
  it('over WebSocket: 20 messages then the connection dropped: all stored', async () => {
    const { ws } = await wsLogin(h.httpPort, 'alice', 'alice-pw');
    ws.send(`<presence xmlns='jabber:client' type='subscribe' to='erin@localhost'/>`);
    for (let i = 0; i < 19; i++) ws.send(`<message xmlns='jabber:client' to='erin@localhost' type='chat' id='ws${i}'><body>ws ${i}</body></message>`);
    // Closed without the closing handshake, as soon as the frames are written.
    ws.send(`<message xmlns='jabber:client' to='erin@localhost' type='chat' id='ws19'><body>ws 19</body></message>`, () => ws.terminate());
    await offlineDelivered('erin', 'ws', 20);
  });
});
