/**
 * Client-to-server with real clients (@xmpp/client over TCP and WebSocket, raw sockets where the
 * client library cannot express it): authentication, registration, chat, presence, roster,
 * offline delivery, disco, ping, stream management.
 */
import assert from 'node:assert/strict';
import type { Client } from '@xmpp/client';
import { collect, delay, DOMAIN, type Harness, HEADER, login, nextStanza, RawClient, rawLogin, startXmpp, stopAll, xmlEl } from './helpers.js';
import { eventually } from '../support/index.js';
import { deriveScram as deriveScramKeys } from '../../plugins/auth/index.js';

describe('xmpp c2s', function () {
  let h: Harness;
  const clients: Client[] = [];
  const track = (c: Client) => { clients.push(c); return c; };

  before(async () => { h = await startXmpp(); });
  after(async () => { await h.close(); });
  afterEach(async () => { await stopAll(...clients.splice(0)); });

  describe('authentication', () => {
    it('logs in with SASL PLAIN (@xmpp/client)', async () => {
      const c = track(await login(h.port, 'alice', 'alice-pw', { mechanism: 'PLAIN', resource: 'plain' }));
      assert.equal(c.jid?.toString(), `alice@${DOMAIN}/plain`);
    });

    it('logs in with SCRAM-SHA-1 (@xmpp/client)', async () => {
      const c = track(await login(h.port, 'bob', 'bob-pw', { mechanism: 'SCRAM-SHA-1' }));
      assert.match(c.jid!.toString(), /^bob@localhost\//);
    });

    it('logs in with SCRAM-SHA-256 (raw client computing the proof)', async () => {
      const c = await rawLogin(h.port, 'carol', 'carol-pw', 'SCRAM-SHA-256', 'r256');
      assert.match(c.buf, /<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>[A-Za-z0-9+/=]+<\/success>/);
      assert.match(c.buf, /<jid>carol@localhost\/r256<\/jid>/);
      c.destroy();
    });

    it('refuses a wrong password with not-authorized, for PLAIN and SCRAM', async () => {
      for (const mechanism of ['PLAIN', 'SCRAM-SHA-1']) {
        await assert.rejects(login(h.port, 'alice', 'wrong', { mechanism }), /not-authorized/);
      }
      await assert.rejects(login(h.port, 'nobody', 'x', { mechanism: 'SCRAM-SHA-1' }), /not-authorized/);
    });

    it('answers an unknown mechanism with invalid-mechanism and keeps the stream open', async () => {
      const c = await RawClient.open(h.port);
      c.send(HEADER);
      await c.waitFor(/<\/stream:features>/);
      c.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='NOPE'/>`);
      await c.waitFor(/<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><invalid-mechanism\/><\/failure>/);
      const mark = c.buf.length;
      c.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from('\0alice\0alice-pw').toString('base64')}</auth>`);
      await c.waitFor(/<success/, 5000, mark);
      c.destroy();
    });

    it('closes after too many failures with policy-violation', async () => {
      const c = await RawClient.open(h.port);
      c.send(HEADER);
      await c.waitFor(/<\/stream:features>/);
      for (let i = 0; i < 5; i++) c.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from('\0alice\0bad').toString('base64')}</auth>`);
      await c.waitFor(/<policy-violation xmlns='urn:ietf:params:xml:ns:xmpp-streams'\/>/);
      await c.waitClose();
    });

    it('offers STARTTLS features, SASL mechanisms and registration', async () => {
      const c = await RawClient.open(h.port);
      c.send(HEADER);
      const m = await c.waitFor(/<stream:features[\s\S]*<\/stream:features>/);
      assert.match(m[0], /<mechanism>SCRAM-SHA-256<\/mechanism><mechanism>SCRAM-SHA-1<\/mechanism><mechanism>PLAIN<\/mechanism>/);
      assert.match(m[0], /<register xmlns='http:\/\/jabber.org\/features\/iq-register'\/>/);
      assert.doesNotMatch(m[0], /starttls/);
      c.destroy();
    });
  });

  describe('in-band registration (XEP-0077)', () => {
    it('registers through the auth plugin, then logs in with SCRAM', async () => {
      const c = await RawClient.open(h.port);
      c.send(HEADER);
      await c.waitFor(/<\/stream:features>/);
      c.send(`<iq type='get' id='r1'><query xmlns='jabber:iq:register'/></iq>`);
      await c.waitFor(/<iq[^>]*type='result'[^>]*id='r1'[\s\S]*<username\/><password\/>/);
      c.send(`<iq type='set' id='r2'><query xmlns='jabber:iq:register'><username>Dave</username><password>dave-pw</password></query></iq>`);
      await c.waitFor(/<iq[^>]*type='result'[^>]*id='r2'/);
      c.destroy();
      const d = track(await login(h.port, 'dave', 'dave-pw', { mechanism: 'SCRAM-SHA-1' }));
      assert.match(d.jid!.toString(), /^dave@localhost/);
      assert.ok(await h.auth.scramCredentials('dave', 'SCRAM-SHA-256'));
    });

    it('refuses a taken name with conflict', async () => {
      const c = await RawClient.open(h.port);
      c.send(HEADER);
      await c.waitFor(/<\/stream:features>/);
      c.send(`<iq type='set' id='r3'><query xmlns='jabber:iq:register'><username>alice</username><password>x</password></query></iq>`);
      await c.waitFor(/<iq[^>]*type='error'[^>]*id='r3'[\s\S]*<conflict/);
      c.destroy();
    });

    it('still logs in accounts kept in metadata xmpp-user by older versions', async () => {
      const h2 = await startXmpp();
      const scram: Record<string, { i: number; s: string; k: string; v: string }> = {};
      for (const m of ['SCRAM-SHA-1', 'SCRAM-SHA-256'] as const) {
        const c = await deriveScramKeys('erin-pw', m);
        scram[m] = { i: c.iterations, s: c.salt.toString('base64'), k: c.storedKey.toString('base64'), v: c.serverKey.toString('base64') };
      }
      await h2.broker.metadata.putJson('xmpp-user', 'erin', { scram });
      const e1 = await login(h2.port, 'erin', 'erin-pw', { mechanism: 'SCRAM-SHA-1' });
      const e2 = await login(h2.port, 'erin', 'erin-pw', { mechanism: 'PLAIN' });
      await assert.rejects(login(h2.port, 'erin', 'nope', { mechanism: 'PLAIN' }), /not-authorized/);
      await assert.rejects(login(h2.port, 'erin', 'nope', { mechanism: 'SCRAM-SHA-1' }), /not-authorized/);
      await stopAll(e1, e2);
      await h2.close();
    });
  });

  describe('instant messaging', () => {
    it('routes chat by full and bare JID', async () => {
      const a = track(await login(h.port, 'alice', 'alice-pw', { resource: 'a1', presence: true }));
      const b = track(await login(h.port, 'bob', 'bob-pw', { resource: 'b1', presence: true }));
      const got = nextStanza(b, (s) => s.name === 'message' && s.getChildText('body') === 'hello bob');
      await a.send(xmlEl('message', { to: 'bob@localhost/b1', type: 'chat' }, xmlEl('body', null, 'hello bob')));
      const m = await got;
      assert.equal(m.attrs.from, 'alice@localhost/a1');
      const got2 = nextStanza(a, (s) => s.name === 'message' && s.getChildText('body') === 'hi alice');
      await b.send(xmlEl('message', { to: 'alice@localhost', type: 'chat' }, xmlEl('body', null, 'hi alice')));
      assert.equal((await got2).attrs.from, 'bob@localhost/b1');
    });

    it('delivers a bare-JID message to every available resource', async () => {
      const a1 = track(await login(h.port, 'alice', 'alice-pw', { resource: 'x1', presence: true }));
      const a2 = track(await login(h.port, 'alice', 'alice-pw', { resource: 'x2', presence: true }));
      const b = track(await login(h.port, 'bob', 'bob-pw', { presence: true }));
      const p1 = nextStanza(a1, (s) => s.getChildText('body') === 'both');
      const p2 = nextStanza(a2, (s) => s.getChildText('body') === 'both');
      await b.send(xmlEl('message', { to: 'alice@localhost', type: 'chat' }, xmlEl('body', null, 'both')));
      await Promise.all([p1, p2]);
    });

    it('bounces messages to unknown users and other domains', async () => {
      const a = track(await login(h.port, 'alice', 'alice-pw', { presence: true }));
      const e1 = nextStanza(a, (s) => s.name === 'message' && s.attrs.type === 'error' && s.attrs.id === 'u1');
      await a.send(xmlEl('message', { to: 'ghost@localhost', type: 'chat', id: 'u1' }, xmlEl('body', null, 'x')));
      assert.ok((await e1).getChild('error')!.getChild('service-unavailable'));
      const e2 = nextStanza(a, (s) => s.name === 'message' && s.attrs.type === 'error' && s.attrs.id === 'u2');
      await a.send(xmlEl('message', { to: 'bob@elsewhere.example', type: 'chat', id: 'u2' }, xmlEl('body', null, 'x')));
      assert.ok((await e2).getChild('error')!.getChild('remote-server-not-found'));
    });

    it('keeps messages for offline users and delivers them at the next login (XEP-0160)', async () => {
      const a = track(await login(h.port, 'alice', 'alice-pw', { presence: true }));
      for (let i = 0; i < 3; i++) await a.send(xmlEl('message', { to: 'carol@localhost', type: 'chat', id: `off${i}` }, xmlEl('body', null, `offline ${i}`)));
      const q = await eventually(() => h.broker.getQueue('xmpp.offline.carol@localhost'), { what: 'the offline queue' });
      await eventually(() => q.messageCount === 3, { what: 'three messages kept offline' });
      const [m] = q.peekEntries(1);
      assert.equal(m.message!.contentType, 'application/xmpp+xml');
      assert.equal(m.message!.durable, true);
      const c = track(await login(h.port, 'carol', 'carol-pw'));
      const got = collect(c, (s) => s.name === 'message' && (s.getChildText('body') ?? '').startsWith('offline'), 3);
      await c.send(xmlEl('presence'));
      const msgs = await got;
      assert.deepEqual(msgs.map((s) => s.getChildText('body')), ['offline 0', 'offline 1', 'offline 2']);
      assert.equal(msgs[0].attrs.from, `alice@localhost/${a.jid!.toString().split('/')[1]}`);
      assert.ok(msgs[0].getChild('delay', 'urn:xmpp:delay'), 'delay stamp');
      await eventually(() => q.messageCount === 0, { what: 'the offline queue emptied by the delivery' });
    });
  });

  describe('roster and presence', () => {
    it('subscribes, approves, pushes roster items and broadcasts presence', async () => {
      const a = track(await login(h.port, 'alice', 'alice-pw', { resource: 'ra' }));
      const b = track(await login(h.port, 'bob', 'bob-pw', { resource: 'rb' }));
      await a.iqCaller.get(xmlEl('query', { xmlns: 'jabber:iq:roster' }));
      await b.iqCaller.get(xmlEl('query', { xmlns: 'jabber:iq:roster' }));
      await a.send(xmlEl('presence'));
      await b.send(xmlEl('presence'));
      // Roster set with a name and group, pushed back.
      const push = nextStanza(a, (s) => s.name === 'iq' && s.attrs.type === 'set' && !!s.getChild('query', 'jabber:iq:roster'));
      await a.iqCaller.set(xmlEl('query', { xmlns: 'jabber:iq:roster' }, xmlEl('item', { jid: 'bob@localhost', name: 'Bob' }, xmlEl('group', null, 'Friends'))));
      const item = (await push).getChild('query')!.getChild('item')!;
      assert.equal(item.attrs.name, 'Bob');
      assert.equal(item.getChildText('group'), 'Friends');
      // Subscription request reaches bob, who approves.
      const req = nextStanza(b, (s) => s.name === 'presence' && s.attrs.type === 'subscribe');
      await a.send(xmlEl('presence', { to: 'bob@localhost', type: 'subscribe' }));
      assert.equal((await req).attrs.from, 'alice@localhost');
      const subscribed = nextStanza(a, (s) => s.name === 'presence' && s.attrs.type === 'subscribed');
      const bobPresence = nextStanza(a, (s) => s.name === 'presence' && !s.attrs.type && s.attrs.from === 'bob@localhost/rb');
      const pushA = nextStanza(a, (s) => s.name === 'iq' && s.getChild('query')?.getChild('item')?.attrs.subscription === 'to');
      await b.send(xmlEl('presence', { to: 'alice@localhost', type: 'subscribed' }));
      await Promise.all([subscribed, bobPresence, pushA]);
      // Stored in the core.
      const rec = h.broker.metadata.getJson<{ items: Record<string, { subscription: string }> }>('xmpp-roster', 'alice@localhost');
      assert.equal(rec?.items['bob@localhost'].subscription, 'to');
      // Bob's presence updates reach alice.
      const away = nextStanza(a, (s) => s.name === 'presence' && s.getChildText('show') === 'away');
      await b.send(xmlEl('presence', null, xmlEl('show', null, 'away')));
      await away;
      // Roster get shows it.
      const roster = await a.iqCaller.get(xmlEl('query', { xmlns: 'jabber:iq:roster' }));
      const bobItem = roster.getChildren('item').find((i) => i.attrs.jid === 'bob@localhost')!;
      assert.equal(bobItem.attrs.subscription, 'to');
      // Unavailable at logout.
      const gone = nextStanza(a, (s) => s.name === 'presence' && s.attrs.type === 'unavailable' && s.attrs.from === 'bob@localhost/rb');
      await stopAll(b);
      await gone;
      // Remove.
      const removed = nextStanza(a, (s) => s.name === 'iq' && s.getChild('query')?.getChild('item')?.attrs.subscription === 'remove');
      await a.iqCaller.set(xmlEl('query', { xmlns: 'jabber:iq:roster' }, xmlEl('item', { jid: 'bob@localhost', subscription: 'remove' })));
      await removed;
      assert.equal(h.broker.metadata.getJson<{ items: Record<string, unknown> }>('xmpp-roster', 'alice@localhost')?.items['bob@localhost'], undefined);
    });

    it('delivers a subscription request made while the contact was offline at its next presence', async () => {
      const a = track(await login(h.port, 'alice', 'alice-pw', { presence: true }));
      await a.send(xmlEl('presence', { to: 'carol@localhost', type: 'subscribe' }));
      await eventually(() => h.broker.metadata.getJson<{ pending: Record<string, true> }>('xmpp-roster', 'carol@localhost')?.pending['alice@localhost'], { what: "alice's request kept for carol" });
      const c = track(await login(h.port, 'carol', 'carol-pw'));
      const req = nextStanza(c, (s) => s.name === 'presence' && s.attrs.type === 'subscribe' && s.attrs.from === 'alice@localhost');
      await c.send(xmlEl('presence'));
      await req;
      await c.send(xmlEl('presence', { to: 'alice@localhost', type: 'unsubscribed' }));
    });
  });

  describe('service discovery and ping', () => {
    it('answers disco#info and disco#items for the server', async () => {
      const a = track(await login(h.port, 'alice', 'alice-pw'));
      const info = await a.iqCaller.get(xmlEl('query', { xmlns: 'http://jabber.org/protocol/disco#info' }), DOMAIN);
      assert.equal(info.getChild('identity')!.attrs.category, 'server');
      const features = info.getChildren('feature').map((f) => f.attrs.var);
      for (const f of ['urn:xmpp:ping', 'jabber:iq:roster', 'msgoffline', 'jabber:iq:register']) assert.ok(features.includes(f), f);
      const items = await a.iqCaller.get(xmlEl('query', { xmlns: 'http://jabber.org/protocol/disco#items' }), DOMAIN);
      assert.equal(items.getChild('item')!.attrs.jid, `pubsub.${DOMAIN}`);
    });

    it('answers ping (XEP-0199) for the server and the pubsub service', async () => {
      const a = track(await login(h.port, 'alice', 'alice-pw'));
      await a.iqCaller.get(xmlEl('ping', { xmlns: 'urn:xmpp:ping' }), DOMAIN);
      await a.iqCaller.get(xmlEl('ping', { xmlns: 'urn:xmpp:ping' }), `pubsub.${DOMAIN}`);
    });

    it('returns service-unavailable for an unknown namespace', async () => {
      const a = track(await login(h.port, 'alice', 'alice-pw'));
      await assert.rejects(a.iqCaller.get(xmlEl('query', { xmlns: 'urn:example:nope' }), DOMAIN), /service-unavailable/);
    });
  });

  describe('stream management (XEP-0198)', () => {
    it('enables SM and answers ack requests', async () => {
      const a = track(await login(h.port, 'alice', 'alice-pw', { presence: true }));
      await eventually(() => a.streamManagement.enabled, { what: 'stream management enabled' });
      assert.ok(a.streamManagement.id);
      await a.send(xmlEl('presence', null, xmlEl('status', null, 'counted')));
      const ack = new Promise<number>((resolve) => a.on('nonza', (n: { name: string; attrs: Record<string, string> }) => { if (n.name === 'a') resolve(Number(n.attrs.h)); }));
      await a.send(xmlEl('r', { xmlns: 'urn:xmpp:sm:3' }));
      const h1 = await ack;
      assert.ok(h1 >= 1, `h=${h1}`);
    });

    it('resumes a session after the connection drops and replays unacknowledged stanzas', async () => {
      const raw = await rawLogin(h.port, 'carol', 'carol-pw', 'PLAIN', 'sm');
      let mark = raw.buf.length;
      raw.send(`<enable xmlns='urn:xmpp:sm:3' resume='true'/>`);
      const en = await raw.waitFor(/<enabled xmlns='urn:xmpp:sm:3' id='([^']+)' resume='true'/, 5000, mark);
      const smId = en[1];
      raw.send(`<presence/>`);
      const b = track(await login(h.port, 'bob', 'bob-pw', { presence: true }));
      mark = raw.buf.length;
      await b.send(xmlEl('message', { to: 'carol@localhost/sm', type: 'chat' }, xmlEl('body', null, 'before drop')));
      await raw.waitFor(/before drop/, 5000, mark);
      raw.destroy();
      await delay(100);
      // Sent while the session hibernates: kept for resumption.
      await b.send(xmlEl('message', { to: 'carol@localhost/sm', type: 'chat' }, xmlEl('body', null, 'while away')));
      await delay(100);
      const r = await RawClient.open(h.port);
      r.send(HEADER);
      await r.waitFor(/<\/stream:features>/);
      r.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from('\0carol\0carol-pw').toString('base64')}</auth>`);
      await r.waitFor(/<success/);
      mark = r.buf.length;
      r.send(HEADER);
      await r.waitFor(/<\/stream:features>/, 5000, mark);
      mark = r.buf.length;
      r.send(`<resume xmlns='urn:xmpp:sm:3' previd='${smId}' h='0'/>`);
      await r.waitFor(/<resumed xmlns='urn:xmpp:sm:3' previd='[^']+' h='1'\/>/, 5000, mark);
      await r.waitFor(/before drop[\s\S]*while away/, 5000, mark);
      r.send(`<a xmlns='urn:xmpp:sm:3' h='3'/>`);
      r.send(`<iq type='get' id='p1' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`);
      await r.waitFor(/id='p1'/, 5000, mark);
      r.destroy();
    });

    it('fails an unknown resumption id with item-not-found', async () => {
      const r = await RawClient.open(h.port);
      r.send(HEADER);
      await r.waitFor(/<\/stream:features>/);
      r.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from('\0carol\0carol-pw').toString('base64')}</auth>`);
      await r.waitFor(/<success/);
      const mark = r.buf.length;
      r.send(HEADER);
      await r.waitFor(/<\/stream:features>/, 5000, mark);
      r.send(`<resume xmlns='urn:xmpp:sm:3' previd='nope' h='0'/>`);
      await r.waitFor(/<failed xmlns='urn:xmpp:sm:3'><item-not-found/);
      r.destroy();
    });

    it('ends the stream with undefined-condition and both counts when the client acknowledges more than was sent', async () => {
      const raw = await rawLogin(h.port, 'carol', 'carol-pw', 'PLAIN', 'over-ack');
      const mark = raw.buf.length;
      raw.send(`<enable xmlns='urn:xmpp:sm:3'/>`);
      await raw.waitFor(/<enabled xmlns='urn:xmpp:sm:3'\/>/, 5000, mark);
      raw.send(`<iq type='get' id='p1' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`);
      await raw.waitFor(/id='p1'/, 5000, mark);
      raw.send(`<a xmlns='urn:xmpp:sm:3' h='5'/>`);
      await raw.waitFor(/<undefined-condition[\s\S]*You acknowledged 5 stanzas, but I only sent you 1 so far\./, 5000, mark);
      raw.destroy();
    });
  });

  describe('WebSocket (RFC 7395)', () => {
    it('logs in, chats and closes over /xmpp', async () => {
      const w = track(await login(h.port, 'alice', 'alice-pw', { websocket: h.httpPort, resource: 'ws', presence: true }));
      const t = track(await login(h.port, 'bob', 'bob-pw', { presence: true }));
      const got = nextStanza(w, (s) => s.getChildText('body') === 'to ws');
      await t.send(xmlEl('message', { to: 'alice@localhost/ws', type: 'chat' }, xmlEl('body', null, 'to ws')));
      await got;
      const back = nextStanza(t, (s) => s.getChildText('body') === 'from ws');
      await w.send(xmlEl('message', { to: t.jid!.toString(), type: 'chat' }, xmlEl('body', null, 'from ws')));
      assert.equal((await back).attrs.from, 'alice@localhost/ws');
    });
  });
});
