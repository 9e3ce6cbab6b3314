/**
 * STOMP frames: the in-memory shape, header escaping (1.1 and 1.2 rules; none in 1.0 and in
 * CONNECT / CONNECTED frames) and the encoder. The parser lives in parser.ts.
 */

export type StompVersion = '1.0' | '1.1' | '1.2';
export const SUPPORTED_VERSIONS: readonly StompVersion[] = ['1.0', '1.1', '1.2'];

/** Header map of a received frame: null prototype, the first occurrence of a repeated header wins. */
export type StompHeaders = Record<string, string>;

export interface StompFrame {
  command: string;
  headers: StompHeaders;
  body: Buffer;
}

export const LF = 0x0a;
export const CR = 0x0d;
export const COLON = 0x3a;
export const BACKSLASH = 0x5c;
export const NUL = 0x00;

const EMPTY = Buffer.alloc(0);
const NUL_BYTE = Buffer.from([0]);

export function newHeaders(): StompHeaders {
  return Object.create(null) as StompHeaders;
}

/** Escaping applies to every frame of a 1.1 or 1.2 session except CONNECT, STOMP and CONNECTED. */
export function escapesFor(command: string, version: StompVersion | null): StompVersion | null {
  if (version === null || version === '1.0') return null;
  if (command === 'CONNECT' || command === 'STOMP' || command === 'CONNECTED') return null;
  return version;
}

/** Encodes a header name or value for `version` (null: no escaping, CONNECTED or 1.0). */
export function escapeHeader(s: string, version: StompVersion | null): string {
  let special = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === LF || c === CR || c === COLON || c === BACKSLASH) {
      special = true;
      break;
    }
  }
  if (!special) return s;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (version === null) {
      // 1.0 cannot carry line breaks in a header: they would end the header early.
      out += c === LF || c === CR ? ' ' : s[i];
      continue;
    }
    switch (c) {
      case BACKSLASH: out += '\\\\'; break;
      case LF: out += '\\n'; break;
      case COLON: out += '\\c'; break;
      case CR: if (version === '1.2') out += '\\r'; break; // 1.1 has no escape for CR: dropped
      default: out += s[i];
    }
  }
  return out;
}

/** A header name for 1.0 output: a colon would split it. */
function nameFor(name: string, version: StompVersion | null): string {
  if (version !== null) return escapeHeader(name, version);
  const clean = escapeHeader(name, null);
  return clean.includes(':') ? clean.replaceAll(':', '_') : clean;
}

export class EscapeError extends Error {
  override readonly name = 'EscapeError';
}

/** Decodes 1.1 / 1.2 escapes. Undefined escapes are a fatal protocol error, as the specification says. */
export function unescapeHeader(s: string, version: StompVersion): string {
  let i = s.indexOf('\\');
  if (i < 0) return s;
  let out = s.slice(0, i);
  for (; i < s.length; i++) {
    const ch = s[i];
    if (ch !== '\\') {
      out += ch;
      continue;
    }
    const next = s[++i];
    if (next === '\\') out += '\\';
    else if (next === 'n') out += '\n';
    else if (next === 'c') out += ':';
    else if (next === 'r' && version === '1.2') out += '\r';
    else throw new EscapeError(`undefined escape sequence "\\${next ?? ''}" in header`);
  }
  return out;
}

/**
 * Encodes a frame. `headers` are written in order; a body (even empty) is preceded by a
 * `content-length` header unless `noContentLength` is set.
 */
export function encodeFrame(
  command: string,
  headers: Iterable<[string, string]> | Record<string, string>,
  body: Buffer | string | undefined,
  version: StompVersion | null,
): Buffer {
  const esc = escapesFor(command, version);
  const bytes = body === undefined ? EMPTY : typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  let head = command + '\n';
  const entries = Symbol.iterator in headers ? headers as Iterable<[string, string]> : Object.entries(headers);
  for (const [k, v] of entries) {
    if (k === 'content-length') continue;
    head += nameFor(k, esc) + ':' + escapeHeader(v, esc) + '\n';
  }
  if (body !== undefined) head += 'content-length:' + bytes.length + '\n';
  head += '\n';
  return Buffer.concat([Buffer.from(head, 'utf8'), bytes, NUL_BYTE]);
}

/**
 * A RECEIPT frame: the bytes encodeFrame('RECEIPT', { 'receipt-id': id }) gives, from one string
 * and one buffer (a receipted SEND gets one each: encodeFrame's entries, pieces and concatenation
 * cost about 250 bytes of garbage per message).
 */
export function encodeReceipt(receiptId: string, version: StompVersion | null): Buffer {
  return Buffer.from('RECEIPT\nreceipt-id:' + escapeHeader(receiptId, escapesFor('RECEIPT', version)) + '\n\n\0', 'utf8');
}

/** Heart-beat: a single EOL. */
export const HEARTBEAT = Buffer.from('\n');
