/**
 * Hostile input over raw sockets: every case gets the RFC 6120 stream error (or stanza error /
 * SASL failure) and a close where the RFC says so, the process keeps running, and a client that
 * was connected all along still works afterwards. Also STARTTLS (offered, required, upgraded).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import type { Client } from '@xmpp/client';
import { WebSocket } from 'ws';
import { type Harness, HEADER, login, nextStanza, RawClient, rawLogin, startXmpp, stopAll, xmlEl } from './helpers.js';
import { eventually, requireDebianClient, selfSignedCert } from '../support/index.js';

const STREAMS = 'urn:ietf:params:xml:ns:xmpp-streams';
const streamError = (cond: string) => new RegExp(`<stream:error[^>]*><${cond} xmlns='${STREAMS}'/>`);

describe('xmpp bad input', function () {
  let h: Harness;
  let witness: Client;

  before(async () => {
    h = await startXmpp({ xmpp: { maxStanzaBytes: 65536, maxUnauthenticatedStanzaBytes: 4096, maxDepth: 16 } });
    witness = await login(h.port, 'bob', 'bob-pw', { presence: true, resource: 'witness' });
  });
  after(async () => {
    await stopAll(witness);
    await h.close();
  });
  afterEach(async () => {
    // The connected client is unaffected by whatever the previous case sent.
    await witness.iqCaller.get(xmlEl('ping', { xmlns: 'urn:xmpp:ping' }), 'localhost');
  });

  async function expectStreamError(send: Array<string | Buffer>, cond: string, opts: { auth?: boolean } = {}): Promise<RawClient> {
    const c = opts.auth ? await rawLogin(h.port, 'alice', 'alice-pw') : await RawClient.open(h.port);
    for (const s of send) c.send(s);
    await c.waitFor(streamError(cond));
    await c.waitClose();
    return c;
  }

  it('refuses a DTD with entity declarations (billion laughs) without expanding it', async () => {
    const lol = `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">${Array.from({ length: 9 }, (_, i) => `<!ENTITY lol${i + 1} "${`&lol${i || ''};`.repeat(10)}">`).join('')}]>`;
    const c = await expectStreamError([lol, HEADER, '<message>&lol9;</message>'], 'restricted-xml');
    assert.ok(c.buf.length < 2000, 'nothing was expanded');
    // Also inside an established stream.
    await expectStreamError(['<!DOCTYPE x [<!ENTITY a "b">]>'], 'restricted-xml', { auth: true });
  });

  it('refuses an undefined entity reference', async () => {
    await expectStreamError([HEADER, `<message to='bob@localhost'><body>&xxe;</body></message>`], 'restricted-xml');
  });

  it('refuses not-well-formed XML', async () => {
    await expectStreamError([HEADER, '<message><body></message>'], 'not-well-formed');
    await expectStreamError([HEADER, '<a b=c/>'], 'not-well-formed');
    await expectStreamError(['\u0000\u0001garbage<<<>>>'], 'not-well-formed');
    await expectStreamError([HEADER, '<x:y/>'], 'not-well-formed');
  });

  it('refuses invalid UTF-8', async () => {
    await expectStreamError([HEADER, Buffer.from([0x3c, 0x61, 0xff, 0xfe, 0x3e])], 'unsupported-encoding');
  });

  it('refuses comments and processing instructions (restricted XML)', async () => {
    await expectStreamError([HEADER, '<!-- hi -->'], 'restricted-xml');
    await expectStreamError([HEADER, '<?php echo 1; ?>'], 'restricted-xml');
  });

  it('limits nesting depth', async () => {
    await expectStreamError(['<a>'.repeat(100)], 'policy-violation', { auth: true });
  });

  it('limits stanza size, before and after authentication', async () => {
    await expectStreamError([HEADER, `<iq type='get' id='x'><query xmlns='jabber:iq:register'>${'a'.repeat(10000)}</query></iq>`], 'policy-violation');
    const c = await rawLogin(h.port, 'alice', 'alice-pw');
    c.send(`<message to='bob@localhost'><body>${'b'.repeat(20000)}</body></message>`);
    await c.waitFor(/<\/stream:features>/);
    c.send(`<message to='bob@localhost'><body>${'b'.repeat(100000)}</body></message>`);
    await c.waitFor(streamError('policy-violation'));
    await c.waitClose();
  });

  it('limits unterminated text (no stanza boundary)', async () => {
    const c = await rawLogin(h.port, 'alice', 'alice-pw');
    for (let i = 0; i < 10; i++) c.send('x'.repeat(10000));
    await c.waitFor(streamError('policy-violation'));
    await c.waitClose();
  });

  it('refuses stanzas before authentication with not-authorized', async () => {
    await expectStreamError([HEADER, `<message to='bob@localhost'><body>hi</body></message>`], 'not-authorized');
    await expectStreamError([HEADER, `<iq type='get' id='1'><query xmlns='jabber:iq:roster'/></iq>`], 'not-authorized');
  });

  it('refuses stanzas before resource binding with not-authorized', async () => {
    const c = await RawClient.open(h.port);
    c.send(HEADER);
    await c.waitFor(/<\/stream:features>/);
    c.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from('\0alice\0alice-pw').toString('base64')}</auth>`);
    await c.waitFor(/<success/);
    c.send(HEADER);
    c.send(`<message to='bob@localhost'><body>hi</body></message>`);
    await c.waitFor(streamError('not-authorized'));
    await c.waitClose();
  });

  it('answers a wrong stream header with the right stream error', async () => {
    await expectStreamError([`<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>`], 'invalid-namespace');
    await expectStreamError([`<stream xmlns='jabber:client' to='localhost' version='1.0'>`], 'invalid-namespace');
    await expectStreamError([`<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='example.org' version='1.0'>`], 'host-unknown');
    await expectStreamError([`<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost'>`], 'unsupported-version');
  });

  it('handles SASL edge cases with SASL failures, not crashes', async () => {
    const c = await RawClient.open(h.port);
    c.send(HEADER);
    await c.waitFor(/<\/stream:features>/);
    c.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>!!!notbase64</auth>`);
    await c.waitFor(/<incorrect-encoding\/>/);
    c.send(`<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>AAAA</response>`);
    await c.waitFor(/<malformed-request\/>/);
    c.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-256'>${Buffer.from('garbage').toString('base64')}</auth>`);
    await c.waitFor(/<failure[^>]*><malformed-request\/>[\s\S]*<failure[^>]*><malformed-request\/>/);
    c.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from('\0alice\0alice-pw').toString('base64')}</auth>`);
    await c.waitFor(/<success/);
    c.destroy();
  });

  it('refuses a spoofed from address with invalid-from', async () => {
    await expectStreamError([`<message from='bob@localhost/witness' to='bob@localhost'><body>x</body></message>`], 'invalid-from', { auth: true });
  });

  it('answers stanza-level errors without closing', async () => {
    const c = await rawLogin(h.port, 'alice', 'alice-pw');
    c.send(`<iq type='get' id='e1' to='localhost'/>`);
    await c.waitFor(/<iq[^>]*type='error'[^>]*id='e1'[\s\S]*<bad-request/);
    c.send(`<message to='bad@@jid' id='e2'><body>x</body></message>`);
    await c.waitFor(/id='e2'[\s\S]*<jid-malformed/);
    c.send(`<iq type='get' id='e3' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`);
    await c.waitFor(/<iq[^>]*type='result'[^>]*id='e3'|<iq[^>]*id='e3'[^>]*type='result'/);
    c.destroy();
  });

  it('survives a flood of junk connections while the witness chats', async () => {
    const junk = await Promise.all(Array.from({ length: 20 }, () => RawClient.open(h.port)));
    junk.forEach((j, i) => j.send(i % 2 ? '<<<' : Buffer.from([0xff, 0x00, 0x3c])));
    await Promise.all(junk.map((j) => j.waitClose()));
    const a = await login(h.port, 'alice', 'alice-pw', { presence: true });
    const got = nextStanza(witness, (s) => s.getChildText('body') === 'still here');
    await a.send(xmlEl('message', { to: 'bob@localhost/witness', type: 'chat' }, xmlEl('body', null, 'still here')));
    await got;
    await stopAll(a);
  });
});

describe('xmpp bad input over WebSocket (RFC 7395)', function () {
  let h: Harness;
  before(async () => { h = await startXmpp(); });
  after(async () => { await h.close(); });

  async function ws(): Promise<{ w: WebSocket; got: string[]; closed: Promise<void> }> {
    const w = new WebSocket(`ws://127.0.0.1:${h.httpPort}/xmpp`, ['xmpp']);
    const got: string[] = [];
    w.on('message', (d) => got.push(d.toString()));
    const closed = new Promise<void>((r) => w.on('close', () => r()));
    await new Promise((r, j) => { w.once('open', r); w.once('error', j); });
    assert.equal(w.protocol, 'xmpp');
    return { w, got, closed };
  }
  const until = (got: string[], re: RegExp) => eventually(() => got.some((g) => re.test(g)), { what: () => `${re} in ${got.join(' | ')}` });

  it('opens with <open/>, then refuses a DTD with restricted-xml and <close/>', async () => {
    const { w, got, closed } = await ws();
    w.send(`<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='localhost' version='1.0'/>`);
    await until(got, /^<open xmlns='urn:ietf:params:xml:ns:xmpp-framing'/);
    await until(got, /<stream:features/);
    w.send(`<!DOCTYPE x [<!ENTITY a "b">]><message>&a;</message>`);
    await until(got, /<restricted-xml xmlns='urn:ietf:params:xml:ns:xmpp-streams'\/>/);
    await until(got, /^<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'\/>$/);
    await closed;
  });

  it('refuses an incomplete element in one message with not-well-formed', async () => {
    const { w, got, closed } = await ws();
    w.send(`<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='localhost' version='1.0'/>`);
    await until(got, /<stream:features/);
    w.send(`<message xmlns='jabber:client'><body>half`);
    await until(got, /<not-well-formed/);
    await closed;
  });

  it('refuses binary frames', async () => {
    const { w, got, closed } = await ws();
    w.send(Buffer.from([1, 2, 3]));
    await until(got, /<unsupported-encoding/);
    await closed;
  });
});

describe('xmpp rate limit', function () {
  it('slows a fast sender down instead of failing it', async () => {
    const h = await startXmpp({ xmpp: { rateBytesPerSecond: 20000, rateBurstBytes: 2048 } });
    try {
      const c = await rawLogin(h.port, 'alice', 'alice-pw');
      let pings = '';
      for (let i = 0; i < 300; i++) pings += `<iq type='get' id='rp${i}' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`;
      c.send(pings);
      await c.waitFor(/id='rp299'/, 15000);
      assert.equal(c.closed, false);
      c.destroy();
    } finally {
      await h.close();
    }
  });
});

describe('xmpp STARTTLS', function () {
  let dir: string;
  let tls: { cert: string; key: string };

  before(requireDebianClient('openssl'));
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'xmpp-tls-'));
    const { cert, key } = selfSignedCert(dir);
    tls = { cert: readFileSync(cert, 'utf8'), key: readFileSync(key, 'utf8') };
  });
  after(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

  it('offers STARTTLS, upgrades, restarts the stream and authenticates over TLS', async () => {
    const h = await startXmpp({ tls, xmpp: { requireTls: true } });
    try {
      const c = await RawClient.open(h.port);
      c.send(HEADER);
      const f = await c.waitFor(/<stream:features[\s\S]*<\/stream:features>/);
      assert.match(f[0], /<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required\/><\/starttls>/);
      assert.doesNotMatch(f[0], /mechanisms/);
      c.send(`<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`);
      await c.waitFor(/<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'\/>/);
      c.socket.removeAllListeners('data');
      const secure = tlsConnect({ socket: c.socket, rejectUnauthorized: false, servername: 'localhost' });
      await new Promise<void>((r) => secure.once('secureConnect', () => r()));
      let buf = '';
      secure.setEncoding('utf8');
      const wait = (re: RegExp) => new Promise<string>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`timeout ${re}: ${buf}`)), 5000);
        const check = () => { const m = buf.match(re); if (m) { clearTimeout(t); secure.off('data', on); resolve(m[0]); } };
        const on = (d: string) => { buf += d; check(); };
        secure.on('data', on);
        check();
      });
      secure.write(HEADER);
      const f2 = await wait(/<stream:features[\s\S]*<\/stream:features>/);
      assert.match(f2, /<mechanism>PLAIN<\/mechanism>/);
      assert.doesNotMatch(f2, /starttls/);
      secure.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from('\0alice\0alice-pw').toString('base64')}</auth>`);
      await wait(/<success/);
      secure.destroy();
      // Without STARTTLS, authentication is refused when TLS is required.
      const p = await RawClient.open(h.port);
      p.send(HEADER);
      await p.waitFor(/<\/stream:features>/);
      p.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from('\0alice\0alice-pw').toString('base64')}</auth>`);
      await p.waitFor(streamError('policy-violation'));
      await p.waitClose();
    } finally {
      await h.close();
    }
  });

  it('logs in with @xmpp/client over STARTTLS', async () => {
    const h = await startXmpp({ tls });
    const prev = process.env.NODE_TLS_REJECT_UNAUTHORIZED;
    process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
    try {
      const c = await login(h.port, 'alice', 'alice-pw', { mechanism: 'PLAIN' });
      assert.match(c.jid!.toString(), /^alice@localhost/);
      await stopAll(c);
    } finally {
      if (prev === undefined) delete process.env.NODE_TLS_REJECT_UNAUTHORIZED; else process.env.NODE_TLS_REJECT_UNAUTHORIZED = prev;
      await h.close();
    }
  });
});
