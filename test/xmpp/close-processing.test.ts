/**
 * Stanzas read are handled even when the client goes away: messages written right before
 * `</stream:stream>` and a FIN, before a FIN alone, or before a close are all delivered (stored
 * offline for a recipient who is not online), in order. A presence subscription goes first: its
 * roster write makes the messages behind it wait in the connection when the end arrives.
 */
import assert from 'node:assert/strict';
import { collect, type Harness, login, rawLogin, startXmpp, stopAll } from './helpers.js';
import type { XmlElement } from '@xmpp/client';

const burst = (to: string, n: number, tag: string) => `<presence type='subscribe' to='${to}'/>`
  + Array.from({ length: n }, (_, i) => `<message to='${to}' type='chat' id='${tag}${i}'><body>${tag} ${i}</body></message>`).join('');

const bodies = (els: XmlElement[]) => els.map((e) => e.getChildText('body'));
const expected = (tag: string, n: number) => Array.from({ length: n }, (_, i) => `${tag} ${i}`);

describe('xmpp: stanzas read are handled after the client goes away', () => {
  let h: Harness;
  before(async () => { h = await startXmpp({ users: { alice: 'alice-pw', bob: 'bob-pw', carol: 'carol-pw', dave: 'dave-pw' } }); });
  after(async () => { await h?.close(); });

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
});
