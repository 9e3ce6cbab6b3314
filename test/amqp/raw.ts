/** Raw AMQP bytes for bad-input tests: frames built and read with rhea's frame codec. */
import { createRequire } from 'node:module';
import net from 'node:net';

const require = createRequire(import.meta.url);
type Composite = { constructor: { toString(): string }; error?: { condition?: string; description?: string }; [k: string]: unknown };
const frames = require('rhea/lib/frames.js') as {
  write_frame(f: unknown): Buffer;
  amqp_frame(channel: number, performative: unknown, payload?: Buffer): unknown;
  sasl_frame(performative: unknown): unknown;
  read_frame(b: Buffer): { type: number; channel: number; performative?: Composite };
  [name: string]: unknown;
};

export const AMQP_HEADER = Buffer.from([0x41, 0x4d, 0x51, 0x50, 0, 1, 0, 0]);
export const SASL_HEADER = Buffer.from([0x41, 0x4d, 0x51, 0x50, 3, 1, 0, 0]);

/** An AMQP frame with performative `name` (open, begin, attach, flow, transfer, disposition, detach, end, close). */
export function frame(name: string, fields: Record<string, unknown>, channel = 0, payload?: Buffer): Buffer {
  const make = frames[name] as (f: Record<string, unknown>) => unknown;
  return frames.write_frame(frames.amqp_frame(channel, make(fields), payload));
}

export function saslFrame(name: string, fields: Record<string, unknown>): Buffer {
  const make = frames[name] as (f: Record<string, unknown>) => unknown;
  return frames.write_frame(frames.sasl_frame(make(fields)));
}

/** A frame with arbitrary body bytes after the 8-byte header. */
export function rawFrame(body: Buffer, type = 0, channel = 0): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt32BE(8 + body.length, 0);
  h[4] = 2;
  h[5] = type;
  h.writeUInt16BE(channel, 6);
  return Buffer.concat([h, body]);
}

export interface ServerFrame {
  name: string;
  channel: number;
  performative: Composite;
}

/** Splits what the server wrote into protocol headers and frames. */
export function parse(out: Buffer): { headers: Buffer[]; frames: ServerFrame[] } {
  const headers: Buffer[] = [];
  const list: ServerFrame[] = [];
  let i = 0;
  while (i + 8 <= out.length) {
    if (out.toString('latin1', i, i + 4) === 'AMQP') {
      headers.push(out.subarray(i, i + 8));
      i += 8;
      continue;
    }
    const size = out.readUInt32BE(i);
    if (size < 8 || i + size > out.length) break;
    const f = frames.read_frame(out.subarray(i, i + size));
    if (f.performative) list.push({ name: f.performative.constructor.toString().split('#')[0], channel: f.channel, performative: f.performative });
    i += size;
  }
  return { headers, frames: list };
}

/** The error condition of the server's close frame, if it sent one. */
export function closeCondition(out: Buffer): string | undefined {
  const close = parse(out).frames.find((f) => f.name === 'close');
  return close?.performative.error?.condition;
}

/** Connects, writes `chunks` (in order), and resolves with everything the server wrote until it closed. */
export function exchange(port: number, chunks: Buffer[], keepOpenMs = 0): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    const out: Buffer[] = [];
    s.on('data', (d) => out.push(d));
    s.on('error', () => undefined);
    s.on('close', () => resolve(Buffer.concat(out)));
    s.on('connect', () => {
      for (const c of chunks) s.write(c);
      if (keepOpenMs > 0) setTimeout(() => s.end(), keepOpenMs).unref();
    });
    setTimeout(() => { s.destroy(); reject(new Error('server did not close the connection')); }, 10000).unref();
  });
}

/** The usual opening: AMQP header, open, begin. */
export function opening(containerId = 'raw'): Buffer[] {
  return [AMQP_HEADER, frame('open', { container_id: containerId }), frame('begin', { next_outgoing_id: 0, incoming_window: 100, outgoing_window: 100 })];
}
