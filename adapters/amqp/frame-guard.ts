/**
 * The socket rhea sees. Between the network and rhea's engine it
 *
 *  - checks the framing before rhea reads a byte of it: protocol headers (AMQP 1.0, SASL or not),
 *    frame sizes against the negotiated maximum, data offsets, frame types per phase, so an
 *    oversize or malformed frame is refused without buffering it (rhea would wait for the whole
 *    declared size);
 *  - gathers everything written in one tick (rhea writes frame by frame; connection.ts encodes
 *    frames straight into this buffer) and hands it to the socket as one write, and reports
 *    back-pressure (write() false, then 'drain') so consumers can be paused;
 *  - turns every end of the real socket (error, close; end too unless peerEnded is listened for)
 *    into exactly one 'end' for rhea.
 *
 * - walks each frame's performative before rhea decodes it (value-bounds.ts): sizes and counts of
 *   lists, maps and arrays must fit in the bytes the frame really has, so a few bytes claiming
 *   billions of elements are refused (amqp:decode-error) instead of costing rhea seconds and
 *   hundreds of megabytes.
 *
 * Only the framing and the encoding's bounds are checked here; what performatives mean is rhea's
 * (and the connection's) business.
 */
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { NEED_MORE, valueEnd } from './value-bounds.js';

export const AMQP_HEADER = Buffer.from([0x41, 0x4d, 0x51, 0x50, 0, 1, 0, 0]);
export const SASL_HEADER = Buffer.from([0x41, 0x4d, 0x51, 0x50, 3, 1, 0, 0]);
const MAGIC = 0x414d5150; // "AMQP"
const FRAME_HEADER = 8;
const TYPE_AMQP = 0;
const TYPE_SASL = 1;

export type Violation =
  /** Bad protocol header: reply with `reply` (the header we speak) and close. */
  | { kind: 'header'; detail: string; reply: Buffer }
  /** Framing broken after the header: AMQP close with amqp:connection:framing-error (or just close in SASL). */
  | { kind: 'framing'; detail: string; sasl: boolean }
  /** A performative whose encoding does not fit its frame: AMQP close with amqp:decode-error (or just close in SASL). */
  | { kind: 'decode'; detail: string; sasl: boolean };

export interface GuardEvents {
  violation(v: Violation): void;
  /** Bytes arrived (idle-timeout bookkeeping). */
  activity(): void;
  /** The socket cannot take more now ('drain' will follow). */
  blocked(): void;
  drained(): void;
  /** This tick's output went to the socket. */
  flushed(): void;
  /**
   * The peer half-closed (FIN; the server socket allows half-open): no more input, but output
   * still goes out. Without this handler a FIN ends the connection like a close.
   */
  peerEnded?(): void;
}

export class FrameGuard extends EventEmitter {
  /** AMQP frames seen: the first (open) may use the pre-open limit, the rest the negotiated maximum. */
  private amqpFrames = 0;
  private state: 'header' | 'frame-header' | 'body' = 'header';
  private readonly hdr = Buffer.alloc(FRAME_HEADER);
  private hdrLen = 0;
  private need = 0;
  /** The frame being read: body length, extended-header bytes, SASL or not. */
  private bodyLen = 0;
  private bodySkip = 0;
  private bodySasl = false;
  /** Where its body starts (chunk and offset), how much of it that chunk held, and later pieces. */
  private bodyChunk: Buffer | null = null;
  private bodyStart = 0;
  private bodyFirstLen = 0;
  private bodyMore: Buffer[] | null = null;
  /** The last protocol header was the SASL one (and the AMQP one has not followed yet). */
  private saslPhase = false;
  private headers = 0;
  private stopped = false;
  private saslOk = false;
  /** The AMQP protocol header (id 0) has been accepted: AMQP frames may be written. */
  amqpStarted = false;
  /** This tick's output, written to the socket on the next tick. */
  private out: Buffer | null = null;
  private outPos = 0;
  private outSize = 16384;
  private ended = false;
  blocked = false;
  readonly encrypted: boolean;
  readonly authorized: boolean;
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
  readonly localAddress: string | undefined;
  readonly localPort: number | undefined;

  constructor(
    readonly socket: Socket,
    private readonly saslRequired: boolean,
    /** Limit for SASL frames and the open frame (peers do not know our maximum yet). */
    private readonly preOpenMaxFrame: number,
    /** The maximum we announce in open, for every later frame. */
    private readonly maxFrame: number,
    private readonly events: GuardEvents,
  ) {
    super();
    const tlsSocket = socket as Socket & { encrypted?: boolean; authorized?: boolean };
    this.encrypted = tlsSocket.encrypted === true;
    this.authorized = tlsSocket.authorized === true;
    this.remoteAddress = socket.remoteAddress;
    this.remotePort = socket.remotePort;
    this.localAddress = socket.localAddress;
    this.localPort = socket.localPort;
    socket.on('data', (chunk: Buffer) => this.input(chunk));
    socket.on('drain', () => {
      this.blocked = false;
      this.events.drained();
    });
    socket.on('end', () => {
      if (this.events.peerEnded && !this.ended) {
        this.stopped = true;
        this.events.peerEnded();
      } else {
        this.finish();
      }
    });
    socket.on('close', () => this.finish());
    socket.on('error', () => this.finish());
  }

  /** SASL succeeded: the AMQP header may follow. */
  saslDone(): void {
    this.saslOk = true;
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  /** Stops passing input to rhea (after a violation or when closing). */
  stopInput(): void {
    this.stopped = true;
  }

  private finish(): void {
    if (this.ended) return;
    this.ended = true;
    this.stopped = true;
    this.emit('end');
  }

  private input(chunk: Buffer): void {
    if (this.stopped) return;
    this.events.activity();
    let i = 0;
    let elementStart = 0;
    const n = chunk.length;
    while (i < n) {
      if (this.state === 'body') {
        const take = Math.min(this.need, n - i);
        if (this.bodyChunk === null) {
          this.bodyChunk = chunk;
          this.bodyStart = i;
          this.bodyFirstLen = take;
        } else {
          (this.bodyMore ??= []).push(chunk.subarray(i, i + take));
        }
        i += take;
        this.need -= take;
        if (this.need === 0) {
          this.state = 'frame-header';
          const v = this.checkBody();
          if (v) {
            this.stopped = true;
            if (elementStart > 0) this.emit('data', chunk.subarray(0, elementStart));
            this.events.violation(v);
            return;
          }
        }
        continue;
      }
      if (this.hdrLen === 0) elementStart = i;
      const take = Math.min(FRAME_HEADER - this.hdrLen, n - i);
      chunk.copy(this.hdr, this.hdrLen, i, i + take);
      this.hdrLen += take;
      i += take;
      if (this.hdrLen < FRAME_HEADER) break;
      this.hdrLen = 0;
      const v = this.state === 'header' || (this.saslPhase && this.hdr.readUInt32BE(0) === MAGIC)
        ? this.checkProtocolHeader()
        : this.checkFrameHeader();
      if (v) {
        this.stopped = true;
        if (elementStart > 0) this.emit('data', chunk.subarray(0, elementStart));
        this.events.violation(v);
        return;
      }
    }
    this.emit('data', chunk);
  }

  private checkProtocolHeader(): Violation | null {
    const h = this.hdr;
    const ours = this.saslRequired || this.headers === 0 ? SASL_HEADER : AMQP_HEADER;
    if (h.readUInt32BE(0) !== MAGIC || h[5] !== 1 || h[6] !== 0 || h[7] !== 0) {
      return { kind: 'header', detail: `unsupported protocol header ${h.toString('hex')}`, reply: ours };
    }
    const id = h[4];
    this.headers++;
    if (this.headers === 1) {
      if (id === 3) {
        this.saslPhase = true;
      } else if (id === 0) {
        if (this.saslRequired) return { kind: 'header', detail: 'SASL is required', reply: SASL_HEADER };
        this.amqpStarted = true;
      } else {
        return { kind: 'header', detail: `unsupported protocol id ${id}`, reply: ours };
      }
    } else if (this.headers === 2 && this.saslPhase && id === 0 && this.saslOk) {
      this.saslPhase = false;
      this.amqpStarted = true;
    } else {
      return { kind: 'header', detail: `unexpected protocol header (id ${id})`, reply: AMQP_HEADER };
    }
    this.state = 'frame-header';
    return null;
  }

  private checkFrameHeader(): Violation | null {
    const h = this.hdr;
    const size = h.readUInt32BE(0);
    const doff = h[4];
    const type = h[5];
    const sasl = this.saslPhase;
    const limit = sasl || ++this.amqpFrames === 1 ? this.preOpenMaxFrame : this.maxFrame;
    if (size < FRAME_HEADER) return { kind: 'framing', detail: `frame size ${size} is below the minimum`, sasl };
    if (size > limit) return { kind: 'framing', detail: `frame of ${size} bytes exceeds the maximum of ${limit}`, sasl };
    if (doff < 2 || doff * 4 > size) return { kind: 'framing', detail: `invalid data offset ${doff}`, sasl };
    if (type !== (sasl ? TYPE_SASL : TYPE_AMQP)) return { kind: 'framing', detail: `unexpected frame type ${type}`, sasl };
    this.need = size - FRAME_HEADER;
    this.bodyLen = this.need;
    this.bodySkip = doff * 4 - FRAME_HEADER;
    this.bodySasl = sasl;
    this.state = this.need === 0 ? 'frame-header' : 'body';
    return null;
  }

  /** The performative of the frame just read (after its extended header) fits in the frame. */
  private checkBody(): Violation | null {
    const chunk = this.bodyChunk!;
    const start = this.bodyStart;
    const first = this.bodyFirstLen;
    const more = this.bodyMore;
    const len = this.bodyLen;
    this.bodyChunk = null;
    this.bodyMore = null;
    if (this.bodySkip >= len) return null;
    try {
      try {
        // Usually the whole performative is in the chunk where the frame starts: walk it there.
        valueEnd(chunk, start + this.bodySkip, start + first, start + len);
      } catch (e) {
        if (e !== NEED_MORE || more === null) throw e;
        valueEnd(Buffer.concat([chunk.subarray(start, start + first), ...more], len), this.bodySkip, len, len);
      }
    } catch (e) {
      const detail = e === NEED_MORE ? 'performative runs past its frame' : (e as Error).message;
      return { kind: 'decode', detail, sasl: this.bodySasl };
    }
    return null;
  }

  // ---- the socket interface rhea uses -----------------------------------------------------------

  write(buf: Buffer): boolean {
    if (this.ended || this.socket.destroyed) return false;
    this.reserve(buf.length);
    buf.copy(this.out!, this.outPos);
    this.outPos += buf.length;
    return !this.blocked;
  }

  /** Makes room for `n` more bytes in this tick's output (scheduling its flush). */
  reserve(n: number): void {
    if (!this.out) {
      this.out = Buffer.allocUnsafe(Math.max(this.outSize, n));
      this.outPos = 0;
      process.nextTick(() => this.flush());
    } else if (this.outPos + n > this.out.length) {
      this.adopt(this.out, this.outPos, this.outPos + n);
    }
  }

  /** This tick's output buffer and position (to encode into), see adopt(). */
  get output(): { buf: Buffer; pos: number } {
    return { buf: this.out!, pos: this.outPos };
  }

  /** Takes over `buf` (which holds this tick's output up to `pos`), grown to hold `need` bytes if asked. */
  adopt(buf: Buffer, pos: number, need = pos): void {
    if (need > buf.length) {
      const next = Buffer.allocUnsafe(Math.max(buf.length * 2, need));
      buf.copy(next, 0, 0, pos);
      buf = next;
    }
    this.out = buf;
    this.outPos = pos;
  }

  private flush(): void {
    const out = this.out;
    if (!out) return;
    const len = this.outPos;
    this.out = null;
    this.outPos = 0;
    // Next tick's buffer starts at about this one's size (bounded), so busy connections rarely grow.
    this.outSize = Math.min(1 << 20, Math.max(16384, len));
    if (len === 0 || this.socket.destroyed) return;
    const ok = this.socket.write(out.subarray(0, len));
    if (!ok && !this.blocked) {
      this.blocked = true;
      this.events.blocked();
    }
    this.events.flushed();
  }

  /** Bytes the socket holds that the kernel has not taken yet. */
  get unwritten(): number {
    return this.socket.writableLength;
  }

  /** Writes raw bytes outside rhea (a protocol header before closing). */
  writeRaw(buf: Buffer): void {
    this.flush();
    if (!this.ended && !this.socket.destroyed) this.socket.write(buf);
  }

  end(): void {
    this.stopped = true;
    if (this.socket.destroyed) return;
    this.flush();
    this.socket.end();
  }

  destroy(): void {
    this.stopped = true;
    this.socket.destroy();
  }

  setNoDelay(v = true): this {
    this.socket.setNoDelay(v);
    return this;
  }

  getPeerCertificate(): unknown {
    const s = this.socket as Socket & { getPeerCertificate?: () => unknown };
    return s.getPeerCertificate ? s.getPeerCertificate() : undefined;
  }

  get_id_string(): string {
    return `${this.remoteAddress}:${this.remotePort}`;
  }
}
