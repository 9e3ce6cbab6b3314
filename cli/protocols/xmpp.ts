/**
 * XMPP for send/receive with @xmpp/client: XEP-0060 publish and subscribe on `pubsub.<domain>`
 * (or `?service=`), the node being the URL path. The domain is `?domain=`, else the URL host
 * unless that is an IP address (then `localhost`, Junction's default domain). Bodies travel in
 * Junction's `<payload xmlns='urn:junction:payload:0'>` (utf-8 text, or base64 for other bytes)
 * with the content type as its attribute; XMPP has no user headers, so --header is not sent.
 * Credentials come from the URL or --user/--password (SASL ANONYMOUS when there are none and
 * the broker offers it). receive unsubscribes again when it ends.
 */
import { isIP } from 'node:net';
import type { Client, XmlElement } from '@xmpp/client';
import { CliError } from '../errors.js';
import type { ConnectOptions, ProtocolClient, ReceivedMessage } from './types.js';

const NS_PUBSUB = 'http://jabber.org/protocol/pubsub';
const NS_EVENT = 'http://jabber.org/protocol/pubsub#event';
const NS_PAYLOAD = 'urn:junction:payload:0';

interface Session {
  xmpp: Client;
  xml: typeof import('@xmpp/client').xml;
  service: string;
}

async function connect(o: ConnectOptions): Promise<Session> {
  const { client, xml } = await import('@xmpp/client');
  const t = o.target;
  const domain = t.params.get('domain') ?? (isIP(t.host) ? 'localhost' : t.host);
  const xmpp = client({
    service: `${t.tls ? 'xmpps' : 'xmpp'}://${t.host.includes(':') ? `[${t.host}]` : t.host}:${t.port}`,
    domain,
    resource: `junction-cli-${process.pid}`,
    credentials: async (authenticate: (c: unknown, m: string) => Promise<void>, mechanisms: string[]) => {
      if (o.user) {
        const mech = mechanisms.find((m) => m !== 'ANONYMOUS') ?? mechanisms[0];
        await authenticate({ username: o.user, password: o.password ?? '' }, mech);
      } else if (mechanisms.includes('ANONYMOUS')) {
        await authenticate({}, 'ANONYMOUS');
      } else {
        throw new CliError('this XMPP server needs a user: xmpp://user:password@host/node or --user/--password');
      }
    },
  } as never) as Client;
  xmpp.reconnect.stop();
  let lastError: unknown = null;
  xmpp.on('error', (e: unknown) => { lastError = e; });
  try {
    await Promise.race([
      xmpp.start(),
      new Promise((_, reject) => setTimeout(() => reject(new CliError(`no answer from the XMPP server at ${t.host}:${t.port} in 10 s`)), 10_000)),
    ]);
  } catch (e) {
    const err = e as { condition?: string; message?: string };
    if (err.condition === 'not-authorized') throw new CliError(`the XMPP server refused the login${o.user ? ` of ${o.user}` : ''} (not-authorized)`);
    throw lastError && !(e instanceof CliError) ? lastError : e;
  }
  return { xmpp, xml, service: t.params.get('service') ?? `pubsub.${domain}` };
}

async function iq(s: Session, child: XmlElement, what: string): Promise<XmlElement> {
  try {
    return await s.xmpp.iqCaller.set(child, s.service);
  } catch (e) {
    const cond = (e as { condition?: string }).condition;
    throw new CliError(`the XMPP server refused to ${what}${cond ? ` (${cond})` : `: ${(e as Error).message}`}`);
  }
}

async function stop(s: Session): Promise<void> {
  await Promise.race([s.xmpp.stop().catch(() => undefined), new Promise((r) => setTimeout(r, 2000))]);
}

function textOf(e: XmlElement): string {
  return (e as unknown as { text(): string }).text();
}

function payloadOf(item: XmlElement): { body: Buffer; contentType?: string } {
  const p = item.getChild('payload', NS_PAYLOAD);
  if (p) {
    const text = textOf(p);
    return { body: p.attrs.encoding === 'base64' ? Buffer.from(text, 'base64') : Buffer.from(text, 'utf8'), contentType: p.attrs['content-type'] };
  }
  const first = item.children.find((c) => typeof c !== 'string') as XmlElement | undefined;
  return { body: Buffer.from(first ? first.toString() : textOf(item), 'utf8'), contentType: first ? 'application/xml' : undefined };
}

export const xmppClient: ProtocolClient = {
  async sender(o) {
    const s = await connect(o);
    const node = o.target.path;
    return {
      async send(m) {
        const text = m.body.toString('utf8');
        const utf8 = Buffer.from(text, 'utf8').equals(m.body);
        const attrs: Record<string, string> = { xmlns: NS_PAYLOAD, encoding: utf8 ? 'utf-8' : 'base64' };
        if (m.contentType) attrs['content-type'] = m.contentType;
        const payload = s.xml('payload', attrs, utf8 ? text : m.body.toString('base64'));
        await iq(s, s.xml('pubsub', { xmlns: NS_PUBSUB }, s.xml('publish', { node }, s.xml('item', {}, payload))), `publish to node ${node}`);
      },
      async close() { await stop(s); },
    };
  },
  async receiver(o) {
    const s = await connect(o);
    const node = o.target.path;
    const jid = s.xmpp.jid!.bare().toString();
    let subscribed = false;
    return {
      async start(onMessage) {
        s.xmpp.on('stanza', (stanza: XmlElement) => {
          if (!stanza.is('message')) return;
          const items = stanza.getChild('event', NS_EVENT)?.getChild('items');
          if (!items || items.attrs.node !== node) return;
          for (const item of items.getChildren('item')) {
            const { body, contentType } = payloadOf(item);
            const m: ReceivedMessage = { body, headers: {}, contentType, fields: { node, service: s.service, 'item-id': item.attrs.id } };
            onMessage(m);
          }
        });
        await iq(s, s.xml('pubsub', { xmlns: NS_PUBSUB }, s.xml('subscribe', { node, jid })), `subscribe to node ${node}`);
        subscribed = true;
        await s.xmpp.send(s.xml('presence'));
      },
      async close() {
        if (subscribed) {
          await Promise.race([
            s.xmpp.iqCaller.set(s.xml('pubsub', { xmlns: NS_PUBSUB }, s.xml('unsubscribe', { node, jid })), s.service).catch(() => undefined),
            new Promise((r) => setTimeout(r, 2000)),
          ]);
        }
        await stop(s);
      },
    };
  },
};
