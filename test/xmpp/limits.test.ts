/** limits.maxConnections counts XMPP connections across TCP, direct TLS and WebSocket, before any stream work. */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { WebSocket } from 'ws';
import { requireDebianClient } from '../support/debian.js';
import { eventually, firstBytes, selfSignedCert, tlsHandshakes, upgradeAnswer } from '../support/index.js';
import { HEADER, HOST, login, nextStanza, rawLogin, startXmpp, stopAll, type Harness } from './helpers.js';

/** A direct TLS connection that has sent a stream header and got the features; null if the server dropped it. */
function tlsStream(port: number): Promise<{ socket: TLSSocket; text: () => string } | null> {
  return new Promise((resolve) => {
    let buf = '';
    const s = tlsConnect({ port, host: HOST, rejectUnauthorized: false, servername: 'localhost' }, () => s.write(HEADER));
    s.setEncoding('utf8');
    s.on('data', (d: string) => {
      buf += d;
      if (buf.includes('</stream:features>')) resolve({ socket: s, text: () => buf });
    });
    s.on('error', () => resolve(null));
    s.on('close', () => resolve(null));
  });
}

/** Resolves 'open' if the WebSocket opens and stays, 'closed' if the server drops it. */
function wsAttempt(port: number): Promise<'open' | 'closed'> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://${HOST}:${port}/xmpp`, ['xmpp']);
    ws.on('error', () => resolve('closed'));
    ws.on('close', () => resolve('closed'));
    ws.on('open', () => ws.send(`<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='localhost' version='1.0'/>`));
    ws.on('message', () => { resolve('open'); ws.close(); });
  });
}

describe('xmpp connection limit across listeners', () => {
  let dir: string;
  let h: Harness;
  before(requireDebianClient('openssl', 'openssl'));
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'xmpp-gate-'));
    const { cert, key } = selfSignedCert(dir);
    const tls = { cert: readFileSync(cert, 'utf8'), key: readFileSync(key, 'utf8') };
    h = await startXmpp({ tls, limits: { maxConnections: 3 }, xmpp: { tlsPort: -1 } });
  });
  after(async () => {
    await h?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('a TCP client, a direct-TLS stream and an @xmpp/client over WebSocket fill a limit of 3: a fourth on any listener is closed without a byte; the three keep working', async () => {
    // Over TCP the server offers STARTTLS with a self-signed certificate: a raw client logs in there.
    const alice = await rawLogin(h.port, 'alice', 'alice-pw');
    const secure = await tlsStream(h.tlsPort!);
    assert.ok(secure, 'the TLS connection is admitted');
    const bob = await login(h.port, 'bob', 'bob-pw', { websocket: h.httpPort, presence: true });
    try {
      // Refused on accept: closed without a byte of XMPP, TLS or HTTP.
      assert.equal(await firstBytes(h.port, HEADER), '');
      assert.equal(await tlsHandshakes(h.tlsPort!), false);
      assert.equal(await upgradeAnswer(h.httpPort, '/xmpp', 'xmpp'), '');

      // The admitted three still work: a chat message from the TCP client to the WebSocket one.
      const got = nextStanza(bob, (s) => s.is('message'));
      alice.send(`<message to='bob@localhost' type='chat'><body>across listeners</body></message>`);
      assert.equal((await got).getChildText('body'), 'across listeners');
      assert.match(secure.text(), /<mechanisms/);

      secure.socket.destroy();
      // A place is free again: a WebSocket gets its stream.
      await eventually(async () => (await wsAttempt(h.httpPort)) === 'open', { what: 'a WebSocket stream once the TLS place is free' });
    } finally {
      alice.destroy();
      await stopAll(bob);
    }
  });
});

describe('xmpp idle timeout', () => {
  let h: Harness;
  before(async () => { h = await startXmpp({ xmpp: { idleTimeoutMs: 300 } }); });
  after(async () => { await h.close(); });

  it('a silent bound client is pinged, then closed with connection-timeout', async () => {
    const c = await rawLogin(h.port, 'alice', 'alice-pw');
    const mark = c.buf.length;
    await c.waitFor(/<iq type='get'[^>]*><ping xmlns='urn:xmpp:ping'\/><\/iq>/, 5000, mark);
    await c.waitFor(/<connection-timeout xmlns='urn:ietf:params:xml:ns:xmpp-streams'\/>/, 5000, mark);
    await c.waitClose();
  });

  it('a client that answers the pings stays connected', async () => {
    const c = await rawLogin(h.port, 'bob', 'bob-pw');
    let from = c.buf.length;
    for (let i = 0; i < 3; i++) {
      const m = await c.waitFor(/<iq type='get' id='([^']+)'[^>]*><ping xmlns='urn:xmpp:ping'\/><\/iq>/, 5000, from);
      from = c.buf.length;
      c.send(`<iq type='result' id='${m[1]}' to='localhost'/>`);
    }
    assert.equal(c.closed, false);
    assert.doesNotMatch(c.buf, /connection-timeout/);
    c.destroy();
  });

  it('with stream management the check is an <r/>, answered by <a/>', async () => {
    const c = await rawLogin(h.port, 'carol', 'carol-pw');
    c.send(`<enable xmlns='urn:xmpp:sm:3'/>`);
    await c.waitFor(/<enabled xmlns='urn:xmpp:sm:3'\/>/);
    let from = c.buf.length;
    for (let i = 0; i < 2; i++) {
      await c.waitFor(/<r xmlns='urn:xmpp:sm:3'\/>/, 5000, from);
      from = c.buf.length;
      c.send(`<a xmlns='urn:xmpp:sm:3' h='0'/>`);
    }
    assert.equal(c.closed, false);
    assert.doesNotMatch(c.buf, /<iq type='get'[^>]*><ping/);
    c.destroy();
  });
});
