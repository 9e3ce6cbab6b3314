/**
 * Byte writer and reader for the journal's index snapshot (journal-snapshot.ts): plain fields
 * little-endian, typed-array columns copied as they are in memory (the snapshot is only written
 * and read on a little-endian machine; elsewhere there is none and recovery scans the journal).
 */
import { endianness } from 'node:os';

export const SNAPSHOT_SUPPORTED = endianness() === 'LE';

/**
 * The index snapshot's format. 3: chunks of the message table frozen in memory are stored
 * bit-packed as they are (message-table.ts); 2: every chunk as plain columns.
 */
export const SNAPSHOT_VERSION = 3;

/** Typed arrays a snapshot stores as they are in memory. */
export type Column = Uint8Array | Uint16Array | Uint32Array | Int32Array | Float64Array;

export class SnapshotWriter {
  private readonly parts: Buffer[] = [];
  private cur = Buffer.allocUnsafe(64 * 1024);
  private p = 0;
  /** Bytes in `parts`. */
  private taken = 0;

  private room(n: number): void {
    if (this.p + n <= this.cur.length) return;
    this.flushPart();
    if (n > this.cur.length) this.cur = Buffer.allocUnsafe(n);
  }

  private flushPart(): void {
    if (this.p > 0) {
      this.parts.push(Buffer.from(this.cur.subarray(0, this.p)));
      this.taken += this.p;
    }
    this.p = 0;
  }

  u8(v: number): void { this.room(1); this.cur[this.p++] = v; }
  u16(v: number): void { this.room(2); this.p = this.cur.writeUInt16LE(v, this.p); }
  u32(v: number): void { this.room(4); this.p = this.cur.writeUInt32LE(v, this.p); }
  f64(v: number): void { this.room(8); this.p = this.cur.writeDoubleLE(v, this.p); }

  /** Length-prefixed bytes. */
  bytes(b: Uint8Array): void {
    this.u32(b.length);
    this.raw(b);
  }

  str(s: string): void {
    this.bytes(Buffer.from(s, 'utf8'));
  }

  /**
   * A typed array's first `n` items, as stored in memory. A large one is kept as a view, not
   * copied: the caller does not change it until the parts are written (a captured chunk).
   */
  column(a: Column, n: number): void {
    const b = Buffer.from(a.buffer, a.byteOffset, n * a.BYTES_PER_ELEMENT);
    if (b.length > 64 * 1024) {
      this.flushPart();
      this.parts.push(b);
      this.taken += b.length;
      return;
    }
    this.raw(b);
  }

  /** Bytes encoded and not yet taken. */
  get buffered(): number {
    return this.taken + this.p;
  }

  /** The parts encoded so far (to be written); the writer goes on with the next. */
  take(): Buffer[] {
    this.flushPart();
    const parts = this.parts.splice(0);
    this.taken = 0;
    return parts;
  }

  private raw(b: Uint8Array): void {
    if (b.length > 64 * 1024) {
      this.flushPart();
      this.parts.push(Buffer.from(b));
      this.taken += b.length;
      return;
    }
    this.room(b.length);
    this.cur.set(b, this.p);
    this.p += b.length;
  }
}

/** Reads what SnapshotWriter wrote; throws RangeError past the end (a damaged snapshot). */
export class SnapshotReader {
  private p = 0;

  constructor(private readonly buf: Buffer) {}

  get done(): boolean {
    return this.p === this.buf.length;
  }

  private need(n: number): number {
    if (this.p + n > this.buf.length) throw new RangeError('index snapshot ends early');
    const at = this.p;
    this.p += n;
    return at;
  }

  u8(): number { return this.buf[this.need(1)]; }
  u16(): number { return this.buf.readUInt16LE(this.need(2)); }
  u32(): number { return this.buf.readUInt32LE(this.need(4)); }
  f64(): number { return this.buf.readDoubleLE(this.need(8)); }

  bytes(): Buffer {
    const n = this.u32();
    return this.buf.subarray(this.need(n), this.p);
  }

  str(): string {
    return this.bytes().toString('utf8');
  }

  /** Fills `into` with `n` items stored by SnapshotWriter.column (a copy: the file buffer is not kept). */
  column<T extends Column>(into: T, n: number): T {
    const bytes = n * into.BYTES_PER_ELEMENT;
    const at = this.need(bytes);
    new Uint8Array(into.buffer, into.byteOffset, bytes).set(this.buf.subarray(at, at + bytes));
    return into;
  }
}
