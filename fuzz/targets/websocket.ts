/**
 * WebSocket frames as the HTTP listener's endpoints read them: ws's Receiver in server mode with
 * the listener's options (no permessage-deflate, a maxPayload). Seeds are client frames from ws's
 * own Sender (masked): text, binary, fragmented, ping, pong, close with code and reason, 16- and
 * 64-bit lengths. Expected: ws's protocol errors (code WS_ERR_*); anything else is a crash.
 */
import { createRequire } from 'node:module';
import { chunksOf } from '../prng.js';
import { CrashError, type FuzzTarget } from '../target.js';

interface FrameOptions { fin: boolean; opcode: number; mask: boolean; readOnly: boolean; rsv1: boolean; generateMask?: (m: Buffer) => void }
interface WsReceiver {
  on(event: string, fn: (...args: unknown[]) => void): void;
  _write(chunk: Buffer, encoding: string, cb: (err?: Error | null) => void): void;
}
const require = createRequire(import.meta.url);
const ws = require('ws') as {
  Sender: { frame(data: Buffer, o: FrameOptions): Buffer[] };
  Receiver: new (o: Record<string, unknown>) => WsReceiver;
};

export const WS_MAX_PAYLOAD = 1 << 20;

export function wsFrame(opcode: number, data: Buffer | string, fin = true): Buffer {
  const bytes = typeof data === 'string' ? Buffer.from(data) : data;
  return Buffer.concat(ws.Sender.frame(bytes, { fin, opcode, mask: true, readOnly: false, rsv1: false, generateMask: (m) => m.fill(0x5a) }));
}

export function websocketSeeds(): Buffer[] {
  const close = Buffer.alloc(2 + 3);
  close.writeUInt16BE(1000);
  close.write('bye', 2);
  const frames = [
    wsFrame(1, '<open xmlns="urn:ietf:params:xml:ns:xmpp-framing" to="localhost" version="1.0"/>'),
    wsFrame(2, Buffer.from([0x10, 0x0c, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, 0x02, 0x00, 0x3c, 0x00, 0x00])),
    wsFrame(1, 'CONNECT\naccept-version:1.2\n\n\u0000'),
    wsFrame(1, 'x'.repeat(300)),
    wsFrame(2, Buffer.alloc(70000, 1)),
    Buffer.concat([wsFrame(1, 'frag-', false), wsFrame(0, 'ment-', false), wsFrame(9, 'ping'), wsFrame(0, 'end')]),
    wsFrame(9, 'ping'),
    wsFrame(10, 'pong'),
    wsFrame(8, close),
  ];
  return [...frames, Buffer.concat(frames.filter((f) => f.length < 1000))];
}

export const WEBSOCKET_DICTIONARY = [
  Buffer.from([0x81, 0xfe]), Buffer.from([0x82, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), Buffer.from([0x88, 0x81]),
  Buffer.from([0x03, 0xe8]), Buffer.from([0x0f, 0xa0]), Buffer.from([0xc1]), Buffer.from([0x00, 0x80]), Buffer.from([0xef, 0xbf, 0xbd]), Buffer.from([0xed, 0xa0, 0x80]),
];

export function websocketTarget(): FuzzTarget {
  return {
    name: 'websocket',
    dictionary: WEBSOCKET_DICTIONARY,
    seeds: websocketSeeds,
    run(input: Buffer): string {
      const seen: string[] = [];
      const receiver = new ws.Receiver({ isServer: true, maxPayload: WS_MAX_PAYLOAD, binaryType: 'nodebuffer', extensions: {} });
      receiver.on('message', (_d, isBinary) => seen.push(isBinary ? 'binary' : 'text'));
      receiver.on('ping', () => seen.push('ping'));
      receiver.on('pong', () => seen.push('pong'));
      receiver.on('conclude', (code) => seen.push(`close:${String(code)}`));
      let failed: Error | null = null;
      for (const c of chunksOf(input)) {
        try {
          receiver._write(c, 'buffer', (err) => { if (err) failed = err; });
        } catch (err) {
          throw new CrashError(err, 'ws Receiver');
        }
        if (failed) break;
      }
      if (failed) {
        const code = (failed as Error & { code?: string }).code;
        if (typeof code !== 'string' || !code.startsWith('WS_ERR_')) throw new CrashError(failed, 'ws Receiver');
        seen.push(code);
      }
      return seen.slice(0, 6).join(',');
    },
  };
}
