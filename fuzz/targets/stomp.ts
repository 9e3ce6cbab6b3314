/**
 * STOMP 1.0 / 1.1 / 1.2 frames through adapters/stomp/parser.ts. The parser turns every error
 * into StompParseError, so the harness watches what it wraps: only its own failures and header
 * EscapeError are protocol errors, anything else (TypeError...) is a crash.
 */
import { encodeFrame, EscapeError, type StompVersion } from '../../adapters/stomp/frame.js';
import { StompParseError, StompParser } from '../../adapters/stomp/parser.js';
import { chunksOf, fnv1a } from '../prng.js';
import { CrashError, errorSignature, type FuzzTarget } from '../target.js';

const VERSIONS: Array<StompVersion | null> = [null, '1.0', '1.1', '1.2'];

export function stompSeeds(): Buffer[] {
  const v: StompVersion = '1.2';
  const frames = [
    encodeFrame('CONNECT', { 'accept-version': '1.0,1.1,1.2', host: 'localhost', login: 'guest', passcode: 'guest', 'heart-beat': '1000,1000' }, undefined, null),
    encodeFrame('STOMP', { 'accept-version': '1.2', host: '/' }, undefined, null),
    encodeFrame('SEND', { destination: '/queue/a', receipt: 'r1', persistent: 'true', 'content-type': 'text/plain' }, 'hello\u0000world', v),
    Buffer.from('SEND\ndestination:/topic/b\n\nno content length\u0000'),
    Buffer.from('SEND\r\ndestination:/queue/c\r\nx-esc:a\\nb\\cc\\\\d\\r\r\n\r\nbody\u0000\n\n'),
    encodeFrame('SUBSCRIBE', { id: 's1', destination: '/queue/a', ack: 'client-individual', 'prefetch-count': '10' }, undefined, v),
    encodeFrame('ACK', { id: 'm-1', transaction: 't1' }, undefined, v),
    encodeFrame('NACK', { id: 'm-2' }, undefined, v),
    encodeFrame('BEGIN', { transaction: 't1' }, undefined, v),
    encodeFrame('COMMIT', { transaction: 't1' }, undefined, v),
    encodeFrame('ABORT', { transaction: 't1' }, undefined, v),
    encodeFrame('UNSUBSCRIBE', { id: 's1' }, undefined, v),
    encodeFrame('DISCONNECT', { receipt: 'bye' }, undefined, v),
    Buffer.from('\n\r\n\n'),
  ];
  return [...frames, Buffer.concat(frames)];
}

export const STOMP_DICTIONARY = ['\n', '\r\n', ':', '\\', '\\c', '\\n', '\\r', '\\t', '\u0000', 'content-length:', 'content-length:0', 'content-length:999999999999', '\n\n', 'CONNECT\n', 'SEND\n']
  .map((s) => Buffer.from(s));

const LIMITS = { maxFrameSize: 1 << 20, maxHeaders: 100, maxHeaderLength: 8192 };

export function stompTarget(): FuzzTarget {
  return {
    name: 'stomp',
    dictionary: STOMP_DICTIONARY,
    seeds: stompSeeds,
    run(input: Buffer): string {
      const seen: string[] = [];
      const parser = new StompParser(LIMITS, (f) => seen.push(f.command.slice(0, 12)));
      parser.version = VERSIONS[fnv1a(input) % VERSIONS.length];
      let internal: unknown = null;
      const p = parser as unknown as { run(): void };
      const run = p.run;
      p.run = function watchedRun(this: unknown) {
        try {
          run.call(this);
        } catch (err) {
          if (!(err instanceof StompParseError || err instanceof EscapeError)) internal = err;
          throw err;
        }
      };
      for (const c of chunksOf(input)) {
        try {
          parser.push(c);
        } catch (err) {
          if (internal !== null) throw new CrashError(internal, 'StompParser');
          if (!(err instanceof StompParseError)) throw new CrashError(err, 'StompParser.push');
          seen.push(errorSignature(err));
          break;
        }
      }
      return seen.slice(0, 6).join(',');
    },
  };
}
