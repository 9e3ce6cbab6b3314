/**
 * AMQP 1.0 connections as the broker reads them: adapters/amqp/frame-guard.ts checks protocol
 * headers and framing (over a stand-in socket), rhea's transport decodes the SASL and AMQP frames
 * it lets through (as rhea's Connection does), and the project's own decoders take what the
 * adapter decodes itself: SASL PLAIN responses (sasl.ts), transfer payloads as messages
 * (amqp-message.ts) and coordinator commands (coordinator.ts), delivery states (states.ts).
 * Expected: FrameGuard violations; rhea's ProtocolError and the TypeError / RangeError its decoder
 * raises (the connection answers those with amqp:decode-error, see connection.ts onError);
 * AmqpDecodeError and AmqpConditionError from the project's decoders. Anything else is a crash.
 */
import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import { AmqpDecodeError } from '../../adapters/amqp/amqp-codec.js';
import { decodeAmqpMessage } from '../../adapters/amqp/amqp-message.js';
import { parseCommand } from '../../adapters/amqp/coordinator.js';
import { AMQP_HEADER, FrameGuard, SASL_HEADER } from '../../adapters/amqp/frame-guard.js';
import { parsePlain } from '../../plugins/auth/sasl.js';
import { AmqpConditionError, parseOutcome } from '../../adapters/amqp/states.js';
import { chunksOf, fnv1a } from '../prng.js';
import { CrashError, errorSignature, type FuzzTarget } from '../target.js';

type Perf = Record<string, unknown>;
interface RheaFrames {
  write_frame(frame: unknown): Buffer;
  amqp_frame(channel: number, performative: unknown, payload?: Buffer): unknown;
  sasl_frame(performative: unknown): unknown;
  [name: string]: unknown;
}
interface RheaTransport {
  read(buffer: Buffer): number;
}
type TransportCtor = new (id: string, protocolId: number, frameType: number, handler: object) => RheaTransport;

const require = createRequire(import.meta.url);
const frames = require('rhea/lib/frames.js') as RheaFrames;
const Transport = require('rhea/lib/transport.js') as TransportCtor;
const rheaMessage = require('rhea/lib/message.js') as {
  accepted(): { described(): unknown };
  modified(o: object): { described(): unknown };
  encode(m: object): Buffer;
};

function perf(name: string, fields: Perf): unknown {
  return (frames[name] as (f: Perf) => unknown)(fields);
}
const amqp = (name: string, fields: Perf, payload?: Buffer, channel = 0): Buffer => frames.write_frame(frames.amqp_frame(channel, perf(name, fields), payload));
const sasl = (name: string, fields: Perf): Buffer => frames.write_frame(frames.sasl_frame(perf(name, fields)));

export function amqpSeeds(): Buffer[] {
  const message = rheaMessage.encode({
    header: { durable: true, priority: 4, ttl: 60000 }, message_annotations: { 'x-opt-partition-key': 'k' },
    properties: { message_id: 'm1', subject: 's', content_type: 'text/plain', creation_time: new Date(0) },
    application_properties: { app: 'v', n: 7 }, body: 'hello', footer: { f: 1 },
  });
  const performatives = [
    amqp('open', { container_id: 'fuzz', hostname: 'localhost', max_frame_size: 65536, channel_max: 10, idle_time_out: 30000 }),
    amqp('begin', { next_outgoing_id: 0, incoming_window: 100, outgoing_window: 100, handle_max: 10 }),
    amqp('attach', { name: 'sender-1', handle: 0, role: false, snd_settle_mode: 2, rcv_settle_mode: 0, source: { address: 'src' }, target: { address: 'queue-a' }, initial_delivery_count: 0 }),
    amqp('attach', { name: 'receiver-1', handle: 1, role: true, source: { address: 'queue-a', dynamic: false }, target: {} }),
    amqp('flow', { next_incoming_id: 0, incoming_window: 100, next_outgoing_id: 0, outgoing_window: 100, handle: 1, delivery_count: 0, link_credit: 10, drain: false }),
    amqp('transfer', { handle: 0, delivery_id: 0, delivery_tag: Buffer.from([1]), message_format: 0, settled: false, more: false }, message),
    amqp('transfer', { handle: 0, delivery_id: 1, delivery_tag: Buffer.from([2]), message_format: 0, more: true }, message.subarray(0, 5)),
    amqp('disposition', { role: true, first: 0, last: 1, settled: true, state: rheaMessage.accepted().described() }),
    amqp('disposition', { role: false, first: 0, settled: true, state: rheaMessage.modified({ delivery_failed: true }).described() }),
    amqp('detach', { handle: 0, closed: true }),
    amqp('end', {}),
    amqp('close', {}),
  ];
  const saslInit = sasl('sasl_init', { mechanism: 'PLAIN', initial_response: Buffer.from('\u0000guest\u0000guest'), hostname: 'localhost' });
  const out = [
    Buffer.concat([AMQP_HEADER, ...performatives]),
    Buffer.concat([SASL_HEADER, saslInit, AMQP_HEADER, ...performatives]),
    Buffer.concat([SASL_HEADER, sasl('sasl_init', { mechanism: 'ANONYMOUS', initial_response: Buffer.from('x') })]),
  ];
  for (const p of performatives) out.push(Buffer.concat([AMQP_HEADER, performatives[0], performatives[1], p]));
  return out;
}

export const AMQP_DICTIONARY = [
  AMQP_HEADER, SASL_HEADER, Buffer.from([0x00, 0x53, 0x75]), Buffer.from([0x00, 0x53, 0x70]), Buffer.from([0xd0, 0xff, 0xff, 0xff, 0xff]),
  Buffer.from([0x70, 0xff, 0xff, 0xff, 0xff]), Buffer.from([0xb0, 0x7f, 0xff, 0xff, 0xff]), Buffer.from([0xf0, 0x00, 0x00, 0x10, 0x00, 0x00, 0x01, 0x00, 0x00]),
  Buffer.from([0x00, 0x00, 0x00, 0x08, 0x02, 0x00, 0x00, 0x00]), Buffer.from([0x40]), Buffer.from([0x45]),
];

/** rhea's own decoder errors, which the connection maps to amqp:decode-error. */
function rheaExpected(err: unknown): boolean {
  const name = (err as Error)?.name;
  return name === 'ProtocolError' || name === 'TypeError' || name === 'RangeError' || name === 'AmqpDecodeError';
}

function ours(fn: () => unknown, seen: string[], what: string): void {
  try {
    fn();
    seen.push(what);
  } catch (err) {
    if (!(err instanceof AmqpDecodeError || err instanceof AmqpConditionError)) throw new CrashError(err, what);
    seen.push(errorSignature(err));
  }
}

/** The frames rhea hands to the connection, checked with the project's decoders. */
function handler(seen: string[], onSaslInit: () => void): object {
  return new Proxy({}, {
    get: (_t, prop: string) => (frame: { performative: Perf; payload?: Buffer }) => {
      const p = frame.performative;
      seen.push(prop.slice(3));
      if (prop === 'on_sasl_init') {
        ours(() => parsePlain(p.initial_response as Buffer | undefined), seen, 'parsePlain');
        onSaslInit();
      } else if (prop === 'on_transfer' && frame.payload) {
        const payload = frame.payload;
        ours(() => decodeAmqpMessage(payload, { bareName: 'queue', now: 0 }), seen, 'decodeAmqpMessage');
        ours(() => parseCommand(payload), seen, 'parseCommand');
      } else if (prop === 'on_disposition') {
        ours(() => parseOutcome(p.state), seen, 'parseOutcome');
      }
    },
  });
}

export function amqpTarget(): FuzzTarget {
  return {
    name: 'amqp',
    dictionary: AMQP_DICTIONARY,
    seeds: amqpSeeds,
    run(input: Buffer): string {
      const seen: string[] = [];
      const socket = Object.assign(new EventEmitter(), { remoteAddress: '127.0.0.1', remotePort: 1 }) as unknown as Socket;
      const saslRequired = (fnv1a(input) & 1) === 1;
      let saslTransport: RheaTransport | null = null;
      let amqpTransport: RheaTransport | null = null;
      let pending = Buffer.alloc(0);
      let stopped = false;
      const guard = new FrameGuard(socket, saslRequired, 65536, 1 << 20, {
        violation: (v) => { seen.push(`violation:${v.kind}`); stopped = true; },
        activity: () => undefined, blocked: () => undefined, drained: () => undefined, flushed: () => undefined,
      });
      // Authentication is taken to succeed at once, so a pipelined AMQP header after SASL is read on.
      guard.saslDone();
      let saslDone = false;
      const h = handler(seen, () => { saslDone = true; });
      guard.on('data', (chunk: Buffer) => {
        if (stopped) return;
        let buf = pending.length ? Buffer.concat([pending, chunk]) : chunk;
        try {
          // The first header picks the layer; after SASL, the AMQP layer reads the rest.
          for (;;) {
            if (!amqpTransport && !saslTransport) {
              if (buf.length < 8) break;
              if (buf[4] === 3) saslTransport = new Transport('fuzz', 3, 1, h);
              else amqpTransport = new Transport('fuzz', 0, 0, h);
            }
            const t = saslDone && saslTransport ? (amqpTransport ??= new Transport('fuzz', 0, 0, h)) : (saslTransport ?? amqpTransport)!;
            const before = saslDone;
            const n = t.read(buf);
            buf = buf.subarray(n);
            if (before === saslDone || buf.length === 0) break;
          }
          pending = Buffer.from(buf);
        } catch (err) {
          if (err instanceof CrashError) throw err;
          if (!rheaExpected(err)) throw new CrashError(err, 'rhea transport');
          seen.push(errorSignature(err));
          stopped = true;
        }
      });
      for (const c of chunksOf(input)) {
        if (stopped || guard.isStopped) break;
        try {
          socket.emit('data', c);
        } catch (err) {
          if (err instanceof CrashError) throw err;
          throw new CrashError(err, 'FrameGuard');
        }
      }
      return seen.slice(0, 8).join(',');
    },
  };
}
