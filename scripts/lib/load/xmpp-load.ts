/**
 * XMPP offline messages: a sender logged in with @xmpp/client sends chat messages to an account
 * that has never been online, so each one goes to the recipient's offline storage (a durable core
 * queue). The acknowledgement is XEP-0198 stream management: the server's <a h='...'/> covering
 * the stanza. After a lost connection the next send logs in again (a new stream; stanzas the old
 * one never acknowledged count as failed). The reader logs in as the recipient and sends
 * available presence, which delivers the offline messages.
 * Accounts are created by in-band registration (XEP-0077), on when the broker allows anonymous
 * access and has no users configured (the default `junction start`).
 */
import { connect } from 'node:net';
import { client, xml, type Client, type XmlElement } from '@xmpp/client';
import { AckedLoad, endpointOf, ReadBack, Refusal, type Endpoint, type LoadOptions, type ReadResult } from './acked-load.js';

const DOMAIN = 'localhost';
const PASSWORD = 'chaos-pw';

/** XEP-0077 registration over a raw stream; resolves when the server answers `result` or `conflict` (exists). */
export function registerAccount(at: Endpoint, user: string, password: string, timeoutMs = 10000): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: at.host, port: at.port });
    let buf = '';
    let sent = false;
    const timer = setTimeout(() => finish(new Error(`xmpp: registration of ${user} not answered`)), timeoutMs);
    const finish = (err?: Error) => {
      clearTimeout(timer);
      s.destroy();
      if (err) reject(err);
      else resolve();
    };
    s.setEncoding('utf8');
    s.on('error', (e) => finish(e));
    s.on('connect', () => s.write(`<?xml version='1.0'?><stream:stream to='${DOMAIN}' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>`));
    s.on('data', (d: string) => {
      buf += d;
      if (!sent && buf.includes('</stream:features>')) {
        sent = true;
        s.write(`<iq type='set' id='reg1'><query xmlns='jabber:iq:register'><username>${user}</username><password>${password}</password></query></iq>`);
      }
      const reply = /<iq[^>]*id=['"]reg1['"][\s\S]*?(<\/iq>|\/>)/.exec(buf)?.[0];
      if (!reply) return;
      if (/type=['"]result['"]/.test(reply) || reply.includes('<conflict')) finish();
      else finish(new Error(`xmpp: registration of ${user} refused: ${reply}`));
    });
  });
}

async function login(at: Endpoint, username: string, requestAckDebounceMs = 0): Promise<Client> {
  const c = client({
    service: `xmpp://${at.host}:${at.port}`, domain: DOMAIN, resource: 'chaos',
    credentials: async (authenticate: (c: unknown, m: string) => Promise<void>) => authenticate({ username, password: PASSWORD }, 'PLAIN'),
  });
  c.reconnect.stop();
  c.on('error', () => undefined);
  // Ask for an <a/> soon after each burst instead of the library's 250 ms debounce.
  (c.streamManagement as unknown as { requestAckDebounce: number }).requestAckDebounce = requestAckDebounceMs;
  await c.start();
  return c;
}

export class XmppLoad extends AckedLoad {
  readonly name = 'xmpp';
  readonly exactlyOnce = false;
  private readonly sender: string;
  private readonly recipient: string;
  private session?: Promise<Client>;
  private attempts = 0;
  private reader?: Client;
  private readonly pending = new Map<XmlElement, { resolve: () => void; reject: (e: Error) => void }>();

  constructor(o: LoadOptions) {
    super(o);
    // XMPP localparts are case-folded; keep them lower-case.
    this.sender = `${o.prefix}-snd`.toLowerCase();
    this.recipient = `${o.prefix}-rcv`.toLowerCase();
  }

  async prepare(): Promise<void> {
    const at = endpointOf(this.o.endpoints, 'xmpp');
    await registerAccount(at, this.sender, PASSWORD);
    await registerAccount(at, this.recipient, PASSWORD);
    await this.connection();
  }

  private connection(): Promise<Client> {
    if (!this.session) {
      const opening = login(endpointOf(this.o.endpoints, 'xmpp', this.attempts++), this.sender).then(async (c) => {
        // <enabled/> may come just after the client went online.
        for (let i = 0; i < 100 && !c.streamManagement.enabled; i++) await new Promise((r) => setTimeout(r, 20));
        if (!c.streamManagement.enabled) {
          void c.stop().catch(() => undefined);
          throw new Error('xmpp: the server did not enable stream management');
        }
        // A refused message comes back as an error message with its id (bounce), before the <a/>.
        c.on('stanza', (st: XmlElement) => {
          if (!st.is('message') || st.attrs.type !== 'error') return;
          for (const [sent, p] of this.pending) {
            if (sent.attrs.id !== st.attrs.id) continue;
            p.reject(new Refusal(`xmpp: bounced: ${st.getChild('error')?.getChildElements().map((e) => e.name).join(' ') ?? 'error'}`));
            this.pending.delete(sent);
          }
        });
        c.streamManagement.on('ack', (stanza: XmlElement) => {
          this.pending.get(stanza)?.resolve();
          this.pending.delete(stanza);
        });
        const lost = () => {
          if (this.session === opening) this.session = undefined;
          const err = new Error('xmpp: stream ended before the server acknowledged');
          for (const p of this.pending.values()) p.reject(err);
          this.pending.clear();
        };
        c.on('disconnect', lost);
        c.on('offline', lost);
        return c;
      });
      this.session = opening;
      opening.catch(() => {
        if (this.session === opening) this.session = undefined;
      });
    }
    return this.session;
  }

  protected async send(id: string): Promise<void> {
    const c = await this.connection();
    const stanza = xml('message', { to: `${this.recipient}@${DOMAIN}`, type: 'chat', id }, xml('body', {}, id));
    const acked = new Promise<void>((resolve, reject) => this.pending.set(stanza, { resolve, reject }));
    try {
      await c.send(stanza);
    } catch (err) {
      this.pending.delete(stanza);
      throw err;
    }
    await acked;
  }

  async readBack(expected: Set<string>, timeoutMs: number): Promise<ReadResult> {
    const read = new ReadBack(expected, this.o.prefix);
    const c = await login(endpointOf(this.o.endpoints, 'xmpp'), this.recipient);
    this.reader = c;
    c.on('stanza', (s: XmlElement) => {
      if (s.is('message')) read.count(s.getChildText('body') ?? '');
    });
    await c.send(xml('presence'));
    return read.done(timeoutMs);
  }

  async close(): Promise<void> {
    const stop = (c?: Client) => c && Promise.race([c.stop().catch(() => undefined), new Promise((r) => setTimeout(r, 2000))]);
    await Promise.all([stop(await this.session?.catch(() => undefined)), stop(this.reader)]);
  }
}
