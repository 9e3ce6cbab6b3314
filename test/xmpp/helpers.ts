/**
 * XMPP test harness: a broker with only the XMPP adapter started through the platform (test/support
 * startBroker; users in memory, so in-band registration works; the WebSocket endpoint on the HTTP
 * listener), @xmpp/client logins, and a raw-socket client for bad input.
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { client, type Client, type XmlElement } from '@xmpp/client';
import { WebSocket as WsClient } from 'ws';
import type { Broker } from '../../core/broker.js';
import type { JunctionAuth } from '../../plugins/auth/index.js';
import { startBroker, TEST_HOST, type TestBrokerOptions } from '../support/index.js';

// @xmpp/websocket uses the global WebSocket, which Node 20 does not have: provided (from ws)
// only while such a client connects, so other suites see the global they expect.
async function withGlobalWebSocket<T>(fn: () => Promise<T>): Promise<T> {
  const g = globalThis as { WebSocket?: unknown };
  const had = 'WebSocket' in g;
  const prev = g.WebSocket;
  g.WebSocket ??= WsClient;
  try {
    return await fn();
  } finally {
    if (!had) delete g.WebSocket; else g.WebSocket = prev;
  }
}

export const HOST = TEST_HOST;
export const DOMAIN = 'localhost';

export interface Harness {
  broker: Broker;
  auth: JunctionAuth;
  port: number;
  /** The HTTP listener, where the WebSocket endpoint /xmpp is. */
  httpPort: number;
  /** The direct TLS listener (opened with a certificate and `xmpp.tlsPort`, e.g. -1). */
  tlsPort?: number;
  close(): Promise<void>;
}

/** The users every harness has unless `auth.users` says otherwise. */
const USERS = { alice: 'alice-pw', bob: 'bob-pw', carol: 'carol-pw' };

/**
 * A broker with only the XMPP adapter (test/support startBroker): domain localhost, in-band
 * registration on, alice, bob and carol as users, anonymous refused unless `auth` says otherwise.
 */
export async function startXmpp(options: TestBrokerOptions = {}): Promise<Harness> {
  const b = await startBroker({
    ...options,
    protocols: ['xmpp'],
    auth: { users: USERS, allowAnonymous: false, ...options.auth },
    xmpp: { domain: DOMAIN, registration: true, ...options.xmpp },
  });
  return { broker: b.broker, auth: b.auth, port: b.ports.xmpp!, httpPort: b.ports.http!, tlsPort: b.ports['xmpp-tls'], close: () => b.close() };
}

// ---- @xmpp/client ---------------------------------------------------------------------------

export interface LoginOptions {
  resource?: string;
  mechanism?: string;
  websocket?: number;
  keepReconnect?: boolean;
  presence?: boolean;
}

export async function login(port: number, username: string, password: string, o: LoginOptions = {}): Promise<Client> {
  const c = client({
    service: o.websocket ? `ws://${HOST}:${o.websocket}/xmpp` : `xmpp://${HOST}:${port}`,
    domain: DOMAIN,
    resource: o.resource,
    credentials: async (authenticate: (c: unknown, m: string) => Promise<void>, mechanisms: string[]) => {
      await authenticate({ username, password }, o.mechanism ?? mechanisms[0]);
    },
  });
  if (!o.keepReconnect) c.reconnect.stop();
  c.on('error', () => {});
  if (o.websocket) await withGlobalWebSocket(() => c.start());
  else await c.start();
  if (o.presence) await c.send(xmlEl('presence'));
  return c;
}

export { xml as xmlEl } from '@xmpp/client';
import { xml as xmlEl } from '@xmpp/client';

export async function stopAll(...clients: Array<Client | undefined>): Promise<void> {
  await Promise.all(clients.map(async (c) => {
    if (!c) return;
    c.reconnect.stop();
    try {
      await Promise.race([c.stop(), new Promise((r) => setTimeout(r, 2000))]);
    } catch { /* already gone */ }
  }));
}

/** Resolves with the next stanza matching `pred` (rejects after `ms`). */
export function nextStanza(c: Client, pred: (s: XmlElement) => boolean, ms = 5000): Promise<XmlElement> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      c.off('stanza', on);
      reject(new Error('timed out waiting for a stanza'));
    }, ms);
    const on = (s: XmlElement) => {
      if (!pred(s)) return;
      clearTimeout(timer);
      c.off('stanza', on);
      resolve(s);
    };
    c.on('stanza', on);
  });
}

/** Collects stanzas matching `pred` until `count` arrived. */
export function collect(c: Client, pred: (s: XmlElement) => boolean, count: number, ms = 10000): Promise<XmlElement[]> {
  return new Promise((resolve, reject) => {
    const got: XmlElement[] = [];
    const timer = setTimeout(() => {
      c.off('stanza', on);
      reject(new Error(`timed out: got ${got.length} of ${count}`));
    }, ms);
    const on = (s: XmlElement) => {
      if (!pred(s)) return;
      got.push(s);
      if (got.length >= count) {
        clearTimeout(timer);
        c.off('stanza', on);
        resolve(got);
      }
    };
    c.on('stanza', on);
  });
}

// ---- raw socket -----------------------------------------------------------------------------

export class RawClient {
  buf = '';
  closed = false;
  private waiters: Array<() => void> = [];

  private constructor(readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      this.buf += d;
      this.notify();
    });
    socket.on('close', () => {
      this.closed = true;
      this.notify();
    });
    socket.on('error', () => {});
  }

  private notify(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  static open(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = connect(port, HOST, () => resolve(new RawClient(s)));
      s.once('error', reject);
    });
  }

  send(data: string | Buffer): void {
    if (!this.socket.destroyed) this.socket.write(data);
  }

  /** Waits until the received text matches `re` (from `from` on). */
  async waitFor(re: RegExp, ms = 5000, from = 0): Promise<RegExpMatchArray> {
    const deadline = Date.now() + ms;
    for (;;) {
      const m = this.buf.slice(from).match(re);
      if (m) return m;
      if (this.closed) throw new Error(`closed before ${re}; got: ${this.buf.slice(-500)}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${re}; got: ${this.buf.slice(-500)}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => { clearTimeout(t); r(); });
      });
    }
  }

  async waitClose(ms = 5000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!this.closed) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`not closed; got: ${this.buf.slice(-500)}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => { clearTimeout(t); r(); });
      });
    }
  }

  destroy(): void {
    this.socket.destroy();
  }
}

export const HEADER = `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='${DOMAIN}' version='1.0'>`;

/** A raw client logged in with SASL PLAIN or SCRAM-SHA-256 and bound (used by bad-input and bench code). */
export async function rawLogin(port: number, user: string, password: string, mech: 'PLAIN' | 'SCRAM-SHA-256' | 'SCRAM-SHA-1' = 'PLAIN', resource = 'raw'): Promise<RawClient> {
  const c = await RawClient.open(port);
  c.send(HEADER);
  await c.waitFor(/<\/stream:features>/);
  if (mech === 'PLAIN') {
    c.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from(`\0${user}\0${password}`).toString('base64')}</auth>`);
  } else {
    await scramClient(c, user, password, mech);
  }
  const mark = 0;
  await c.waitFor(/<success[^>]*(\/>|>[^<]*<\/success>)/, 5000, mark);
  const m2 = c.buf.length;
  c.send(HEADER);
  await c.waitFor(/<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'\/>[\s\S]*<\/stream:features>/, 5000, m2);
  const m3 = c.buf.length;
  c.send(`<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>${resource}</resource></bind></iq>`);
  await c.waitFor(/<jid>[^<]+<\/jid>/, 5000, m3);
  return c;
}

async function scramClient(c: RawClient, user: string, password: string, mech: 'SCRAM-SHA-256' | 'SCRAM-SHA-1'): Promise<void> {
  const hash = mech === 'SCRAM-SHA-256' ? 'sha256' : 'sha1';
  const len = mech === 'SCRAM-SHA-256' ? 32 : 20;
  const cnonce = randomBytes(12).toString('base64');
  const first = `n=${user},r=${cnonce}`;
  const start = c.buf.length;
  c.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='${mech}'>${Buffer.from(`n,,${first}`).toString('base64')}</auth>`);
  const ch = await c.waitFor(/<challenge[^>]*>([^<]*)<\/challenge>/, 5000, start);
  const serverFirst = Buffer.from(ch[1], 'base64').toString();
  const attrs = Object.fromEntries(serverFirst.split(',').map((p) => [p[0], p.slice(2)]));
  const salted = pbkdf2Sync(password, Buffer.from(attrs.s, 'base64'), Number(attrs.i), len, hash);
  const clientKey = createHmac(hash, salted).update('Client Key').digest();
  const storedKey = createHash(hash).update(clientKey).digest();
  const finalNoProof = `c=biws,r=${attrs.r}`;
  const authMessage = `${first},${serverFirst},${finalNoProof}`;
  const sig = createHmac(hash, storedKey).update(authMessage).digest();
  const proof = Buffer.alloc(len);
  for (let i = 0; i < len; i++) proof[i] = clientKey[i] ^ sig[i];
  c.send(`<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>${Buffer.from(`${finalNoProof},p=${proof.toString('base64')}`).toString('base64')}</response>`);
}

export const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));
