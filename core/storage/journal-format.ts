/**
 * On-disk layout of the journal. A segment is a sequence of records:
 *
 *   u32 bodyLength | u32 CRC-32 of (type + body) | u8 type | body
 *
 * One record per `journal()` call (type GROUP), so a group is recovered whole or not at all.
 * GROUP body: u32 entryCount, then entries, each starting with u8 kind:
 *   PUT     u16 nsLen ns | u32 keyLen key | u32 valueLen value
 *   DEL     u16 nsLen ns | u32 keyLen key
 *   ENQUEUE u32 seqHigh u32 seqLow | u16 queueCount u32[queueCount] | u32 messageLen message
 *   ACK     u32 seqHigh u32 seqLow | u32 queue
 *   DELIVER u32 seqHigh u32 seqLow | u32 queue | u32 count
 * Strings are UTF-8, integers big-endian.
 */
import { crc32 } from '@node-rs/crc32';
import type { FileHandle } from 'node:fs/promises';
import type { JournalEntry } from '../store.js';
import { SegmentWindow } from './segment-window.js';

export const RECORD_HEADER = 9;
export const RECORD_GROUP = 1;
/** A larger length field can only be a torn or corrupt header. */
export const MAX_RECORD_BODY = 1024 * 1024 * 1024;

const enum Kind { Put = 1, Del = 2, Enqueue = 3, Ack = 4, Deliver = 5 }
const TWO_32 = 2 ** 32;

export const segmentFileName = (id: number): string => `${String(id).padStart(20, '0')}.seg`;

export function parseSegmentFileName(name: string): number | null {
  const m = /^(\d{20})\.seg$/.exec(name);
  return m ? Number(m[1]) : null;
}

/** Where a group's first entry starts, from the start of its record. */
export const GROUP_ENTRIES_AT = RECORD_HEADER + 4;

/** Where an enqueue's message bytes start, from the start of the entry. */
export function enqueueBodyAt(e: { queues: number[] }): number {
  return 15 + 4 * e.queues.length;
}

/** Bytes an entry takes in a group body: what it contributes to its segment's live bytes. */
export function entrySize(e: JournalEntry): number {
  switch (e.kind) {
    case 'put': return 11 + Buffer.byteLength(e.ns) + Buffer.byteLength(e.key) + e.value.length;
    case 'del': return 7 + Buffer.byteLength(e.ns) + Buffer.byteLength(e.key);
    case 'enqueue': return 15 + 4 * e.queues.length + e.message.length;
    case 'ack': return 13;
    case 'deliver': return 17;
  }
}

const isU32 = (n: unknown): boolean => Number.isInteger(n) && (n as number) >= 0 && (n as number) < TWO_32;
const isSeq = (n: unknown): boolean => Number.isSafeInteger(n) && (n as number) >= 0;

function checkEntry(e: JournalEntry): void {
  const kind = (e as { kind?: unknown } | null)?.kind;
  if (kind === 'put' || kind === 'del') {
    const k = e as { ns: unknown; key: unknown; value?: unknown };
    if (typeof k.ns !== 'string' || typeof k.key !== 'string') throw new TypeError('journal ns and key must be strings');
    if (Buffer.byteLength(k.ns) > 0xffff) throw new RangeError('journal namespace longer than 65535 bytes');
    if (kind === 'put' && !(k.value instanceof Uint8Array)) throw new TypeError('journal put needs a Buffer value');
  } else if (kind === 'enqueue') {
    const m = e as { seq: unknown; queues: unknown; message: unknown };
    if (!isSeq(m.seq)) throw new RangeError(`journal seq ${String(m.seq)} is not a non-negative integer`);
    if (!Array.isArray(m.queues) || m.queues.length > 0xffff || !m.queues.every(isU32)) throw new RangeError('journal queue ids must be u32 integers');
    if (!(m.message instanceof Uint8Array)) throw new TypeError('journal enqueue needs a Buffer message');
  } else if (kind === 'ack' || kind === 'deliver') {
    const a = e as { seq: unknown; queue: unknown; count?: unknown };
    if (!isSeq(a.seq)) throw new RangeError(`journal seq ${String(a.seq)} is not a non-negative integer`);
    if (!isU32(a.queue)) throw new RangeError('journal queue id must be a u32 integer');
    if (kind === 'deliver' && !isU32(a.count)) throw new RangeError('journal delivery count must be a u32 integer');
  } else {
    throw new TypeError(`unknown journal entry kind ${String(kind)}`);
  }
}

/** Writes a UTF-8 string with its u16 or u32 byte length at `p`; returns the position after it. */
function putStr(buf: Buffer, p: number, s: string, lenBytes: 2 | 4): number {
  const n = buf.write(s, p + lenBytes, 'utf8');
  if (lenBytes === 2) buf.writeUInt16BE(n, p);
  else buf.writeUInt32BE(n, p);
  return p + lenBytes + n;
}

function putBytes(buf: Buffer, p: number, b: Uint8Array): number {
  p = buf.writeUInt32BE(b.length, p);
  buf.set(b, p);
  return p + b.length;
}

function putSeq(buf: Buffer, p: number, s: number): number {
  p = buf.writeUInt32BE(Math.floor(s / TWO_32), p);
  return buf.writeUInt32BE(s >>> 0, p);
}

/**
 * Encodes entries as one checksummed GROUP record; `sizes[i]` is entry i's share of it. Throws on
 * bad entries. Called once per stored message (most groups hold one entry): it allocates the
 * record, the sizes and the result, no closures.
 */
export function encodeGroup(entries: JournalEntry[]): { record: Buffer; sizes: number[] } {
  const sizes = new Array<number>(entries.length);
  let bodyLength = 4;
  for (let i = 0; i < entries.length; i++) {
    checkEntry(entries[i]);
    bodyLength += sizes[i] = entrySize(entries[i]);
  }
  const buf = Buffer.allocUnsafe(RECORD_HEADER + bodyLength);
  buf.writeUInt32BE(bodyLength, 0);
  buf[8] = RECORD_GROUP;
  let p = RECORD_HEADER;
  p = buf.writeUInt32BE(entries.length, p);
  for (const e of entries) {
    switch (e.kind) {
      case 'put': buf[p++] = Kind.Put; p = putStr(buf, p, e.ns, 2); p = putStr(buf, p, e.key, 4); p = putBytes(buf, p, e.value); break;
      case 'del': buf[p++] = Kind.Del; p = putStr(buf, p, e.ns, 2); p = putStr(buf, p, e.key, 4); break;
      case 'enqueue':
        buf[p++] = Kind.Enqueue;
        p = putSeq(buf, p, e.seq);
        p = buf.writeUInt16BE(e.queues.length, p);
        for (const q of e.queues) p = buf.writeUInt32BE(q, p);
        p = putBytes(buf, p, e.message);
        break;
      case 'ack': buf[p++] = Kind.Ack; p = putSeq(buf, p, e.seq); p = buf.writeUInt32BE(e.queue, p); break;
      case 'deliver': buf[p++] = Kind.Deliver; p = putSeq(buf, p, e.seq); p = buf.writeUInt32BE(e.queue, p); p = buf.writeUInt32BE(e.count, p); break;
    }
  }
  buf.writeUInt32BE(crc32(buf.subarray(8)) >>> 0, 4);
  return { record: buf, sizes };
}

/** Decodes a GROUP body. Buffers in the result are views into `body`. Throws if it is malformed. */
export function decodeGroup(body: Buffer): JournalEntry[] {
  let p = 0;
  const need = (n: number): void => {
    if (p + n > body.length) throw new RangeError('journal group ends inside an entry');
  };
  const u16 = (): number => { need(2); const v = body.readUInt16BE(p); p += 2; return v; };
  const u32 = (): number => { need(4); const v = body.readUInt32BE(p); p += 4; return v; };
  const slice = (n: number): Buffer => { need(n); const b = body.subarray(p, p + n); p += n; return b; };
  const str = (n: number): string => slice(n).toString('utf8');
  const seq = (): number => u32() * TWO_32 + u32();
  const count = u32();
  const entries: JournalEntry[] = [];
  for (let i = 0; i < count; i++) {
    need(1);
    const kind = body[p++];
    switch (kind) {
      case Kind.Put: { const ns = str(u16()); const key = str(u32()); entries.push({ kind: 'put', ns, key, value: slice(u32()) }); break; }
      case Kind.Del: { const ns = str(u16()); entries.push({ kind: 'del', ns, key: str(u32()) }); break; }
      case Kind.Enqueue: {
        const s = seq();
        const queues: number[] = [];
        for (let q = u16(); q > 0; q--) queues.push(u32());
        entries.push({ kind: 'enqueue', seq: s, queues, message: slice(u32()) });
        break;
      }
      case Kind.Ack: { const s = seq(); entries.push({ kind: 'ack', seq: s, queue: u32() }); break; }
      case Kind.Deliver: { const s = seq(); const queue = u32(); entries.push({ kind: 'deliver', seq: s, queue, count: u32() }); break; }
      default: throw new RangeError(`unknown journal entry kind ${kind}`);
    }
  }
  if (p !== body.length) throw new RangeError('journal group has trailing bytes');
  return entries;
}

export interface RecordScan {
  /** Position just after the last intact record: where a torn tail is cut. */
  end: number;
  /** Why the scan stopped before the end of the file. */
  problem?: string;
}

/**
 * Calls `onRecord` for each intact record from `from` (a record boundary, by default the start of the segment), stopping at the first torn
 * (short) or corrupt (bad CRC, bad length, undecodable) record. `onRecord` throwing counts as corrupt.
 */
export async function scanRecords(
  fh: FileHandle, size: number, onRecord: (pos: number, type: number, body: Buffer) => void, from = 0,
): Promise<RecordScan> {
  const win = new SegmentWindow(fh, size, 4 * 1024 * 1024);
  let pos = from;
  while (pos < size) {
    if (!(await win.ensure(pos, RECORD_HEADER))) return { end: pos, problem: 'torn record header' };
    const [buf, at] = win.at(pos);
    const length = buf.readUInt32BE(at);
    const crc = buf.readUInt32BE(at + 4);
    if (length > MAX_RECORD_BODY) return { end: pos, problem: `record length ${length} is impossible` };
    if (!(await win.ensure(pos, RECORD_HEADER + length))) return { end: pos, problem: 'torn record' };
    const covered = win.bytes(pos + 8, length + 1);
    if ((crc32(covered) >>> 0) !== crc) return { end: pos, problem: 'record checksum mismatch' };
    try {
      onRecord(pos, covered[0], covered.subarray(1));
    } catch (err) {
      return { end: pos, problem: `undecodable record: ${(err as Error).message}` };
    }
    pos += RECORD_HEADER + length;
  }
  return { end: pos };
}
