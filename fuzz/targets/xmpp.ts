/**
 * XMPP XML streams through adapters/xmpp/parser.ts, in TCP mode (one document per stream, halted
 * at SASL / STARTTLS elements and resumed with a stream restart, as the connection does) and in
 * WebSocket mode (RFC 7395: one element per message). Expected: StreamError, except the
 * `internal-server-error` the parser wraps unexpected exceptions in: that one is a crash.
 */
import { NS } from '../../adapters/xmpp/ns.js';
import { StreamError, XmppStreamParser } from '../../adapters/xmpp/parser.js';
import { chunksOf, fnv1a } from '../prng.js';
import { CrashError, errorSignature, type FuzzTarget } from '../target.js';

const STREAM_OPEN = `<?xml version='1.0'?><stream:stream to='localhost' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0' xml:lang='en'>`;
const STANZAS = [
  `<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`,
  `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGd1ZXN0AGd1ZXN0</auth>`,
  `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-1'>biwsbj11c2VyLHI9YWJj</auth><response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>Yz1iaXdzLHI9</response>`,
  `<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>fuzz</resource></bind></iq>`,
  `<iq type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq>`,
  `<presence><show>away</show><status>x &amp; y &#x41;</status><priority>5</priority></presence>`,
  `<message to='bob@localhost/r' type='chat' id='m1' xml:lang='en'><body>hello &lt;world&gt; <![CDATA[raw <data>]]></body><thread>t1</thread></message>`,
  `<iq type='set' id='p1'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='n1'><item id='i1'><entry xmlns='urn:x'>v</entry></item></publish></pubsub></iq>`,
  `<iq type='set' id='reg'><query xmlns='jabber:iq:register'><username>u</username><password>p</password></query></iq>`,
  `<enable xmlns='urn:xmpp:sm:3' resume='true'/><r xmlns='urn:xmpp:sm:3'/><a xmlns='urn:xmpp:sm:3' h='3'/>`,
  `<iq type='get' id='d1' to='localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`,
];

export function xmppSeeds(): Buffer[] {
  const out = [Buffer.from(STREAM_OPEN + STANZAS.join('') + '</stream:stream>')];
  for (const s of STANZAS) out.push(Buffer.from(STREAM_OPEN + s));
  out.push(Buffer.from(`<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='localhost' version='1.0'/>`));
  out.push(Buffer.from(`<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>`));
  for (const s of STANZAS) out.push(Buffer.from(s));
  return out;
}

export const XMPP_DICTIONARY = ['<', '>', '/>', '</', '&', '&amp;', '&#0;', '&#x10FFFF;', '&lt', '<![CDATA[', ']]>', '<!--', '-->', '<?xml', '?>',
  '<!DOCTYPE x [<!ENTITY a "aaaa">]>', '&a;', "xmlns:p='u'", "xmlns=''", 'p:x', '</stream:stream>', "='", '"', '\u0000', '\uFFFF', '\uD800']
  .map((s) => Buffer.from(s));

const LIMITS = { maxStanzaChars: 65536, maxDepth: 32 };
const KNOWN_NAMES = new Set(['stream', 'stream:stream', 'starttls', 'auth', 'response', 'iq', 'presence', 'message', 'enable', 'r', 'a', 'open', 'close']);
const known = (name: string) => (KNOWN_NAMES.has(name) ? name : '?');

function checked<T>(fn: () => T, seen: string[]): T | undefined {
  try {
    return fn();
  } catch (err) {
    if (err instanceof CrashError) throw err;
    if (!(err instanceof StreamError)) throw new CrashError(err, 'XmppStreamParser');
    if (err.condition === 'internal-server-error') throw new CrashError(err, 'XmppStreamParser (wrapped internal error)');
    seen.push(errorSignature(err));
    return undefined;
  }
}

export function xmppTarget(): FuzzTarget {
  return {
    name: 'xmpp',
    dictionary: XMPP_DICTIONARY,
    seeds: xmppSeeds,
    run(input: Buffer): string {
      const seen: string[] = [];
      const handlers = {
        // Names the seeds use, others as one: a mutated name is not new coverage, and a signature
        // per random name would grow the engine's signature set with every input.
        streamStart: (name: string) => { seen.push(`start:${known(name)}`); },
        stanza: (el: { name: string; ns?: string }) => {
          seen.push(known(el.name));
          return el.ns === NS.sasl || el.ns === NS.tls;
        },
        streamEnd: () => { seen.push('end'); },
      };
      if ((fnv1a(input) & 3) === 0) {
        const ws = new XmppStreamParser('ws', LIMITS, handlers);
        checked(() => ws.writeMessage(input.toString('utf8')), seen);
        return seen.slice(0, 6).join(',');
      }
      const tcp = new XmppStreamParser('tcp', LIMITS, handlers);
      for (const c of chunksOf(input)) {
        const ok = checked(() => {
          let cont = tcp.writeBytes(c);
          // A halt at SASL / STARTTLS: the connection resumes with a stream restart.
          for (let i = 0; i < 8 && !cont; i++) cont = tcp.resume(true);
          return true;
        }, seen);
        if (!ok) break;
      }
      return seen.slice(0, 6).join(',');
    },
  };
}
