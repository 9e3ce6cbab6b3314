/**
 * STOMP frame parser: an explicit byte-level state machine (after the NATS and mqtt-packet
 * parsers). No regular expression on the hot path; lines and NUL terminators are found with
 * Buffer.indexOf; every buffer is bounded by the limits (a frame larger than `maxFrameSize`, a
 * header line longer than `maxHeaderLength` or more than `maxHeaders` headers is an error as soon
 * as it is seen, before it is buffered whole).
 *
 * Grammar handled: EOL is LF or CR LF; EOLs between frames are heart-beats; header lines are
 * `name:value` split at the first colon; a repeated header keeps its first value; a
 * `content-length` body is read by length (so it may hold NUL bytes) and must be followed by NUL;
 * without it the body runs to the first NUL. Header escapes are decoded per the session's version
 * (1.2: \r \n \c \\; 1.1: \n \c \\; 1.0 and CONNECT / STOMP frames: none, and 1.0 values are
 * trimmed as 1.0 brokers did).
 */
import {
  CR, COLON, LF, NUL, escapesFor, newHeaders, unescapeHeader, type StompFrame, type StompHeaders, type StompVersion,
} from './frame.js';

export interface ParserLimits {
  maxFrameSize: number;
  maxHeaders: number;
  maxHeaderLength: number;
}

export class StompParseError extends Error {
  override readonly name = 'StompParseError';
}

const enum State {
  Command,
  Headers,
  Body,
}

const EMPTY = Buffer.alloc(0);

export class StompParser {
  /** The session's negotiated version: governs header unescaping. Null until CONNECTED. */
  version: StompVersion | null = null;
  /** Heart-beat EOLs seen between frames (for statistics and tests). */
  heartbeats = 0;
  private buf: Buffer = EMPTY;
  private pos = 0;
  private state = State.Command;
  private stopped = false;
  // frame under construction
  private command = '';
  private headers: StompHeaders = newHeaders();
  private headerCount = 0;
  private frameBytes = 0;
  private contentLength = -1;
  private escapes: StompVersion | null = null;
  private body: Buffer | null = null;
  private filled = 0;
  /** Where the search for the terminating NUL resumes (bodies without content-length). */
  private scanFrom = 0;

  constructor(private readonly limits: ParserLimits, private readonly onFrame: (frame: StompFrame) => void) {}

  /** Stops parsing: later input is ignored (the connection is closing). */
  stop(): void {
    this.stopped = true;
    this.buf = EMPTY;
    this.pos = 0;
    this.body = null;
  }

  /** Bytes held waiting for the rest of a frame. */
  get buffered(): number {
    return this.buf.length - this.pos + (this.body ? this.filled : 0);
  }

  /** Feeds bytes. Throws StompParseError on malformed or oversize input (then stops). */
  push(chunk: Buffer): void {
    if (this.stopped || chunk.length === 0) return;
    if (this.pos < this.buf.length) {
      const rest = this.buf.length - this.pos;
      this.buf = Buffer.concat([this.buf.subarray(this.pos), chunk], rest + chunk.length);
      this.scanFrom = Math.max(0, this.scanFrom - this.pos);
    } else {
      this.buf = chunk;
      this.scanFrom = 0;
    }
    this.pos = 0;
    try {
      this.run();
    } catch (err) {
      this.stop();
      if (err instanceof StompParseError) throw err;
      throw new StompParseError((err as Error).message);
    }
    if (this.pos >= this.buf.length) {
      this.buf = EMPTY;
      this.pos = 0;
      this.scanFrom = 0;
    }
  }

  private fail(message: string): never {
    throw new StompParseError(message);
  }

  private run(): void {
    const { maxFrameSize, maxHeaders, maxHeaderLength } = this.limits;
    while (!this.stopped) {
      const buf = this.buf;
      const len = buf.length;
      switch (this.state) {
        case State.Command: {
          // EOLs between frames are heart-beats.
          let pos = this.pos;
          while (pos < len) {
            const c = buf[pos];
            if (c === LF) {
              this.heartbeats++;
              pos++;
            } else if (c === CR) {
              if (pos + 1 >= len) break;
              if (buf[pos + 1] !== LF) this.fail('CR not followed by LF');
              this.heartbeats++;
              pos += 2;
            } else break;
          }
          this.pos = pos;
          if (pos >= len || (buf[pos] === CR && pos + 1 >= len)) return;
          const eol = buf.indexOf(LF, pos);
          if (eol < 0) {
            if (len - pos > maxHeaderLength) this.fail('command line too long');
            return;
          }
          let end = eol;
          if (buf[end - 1] === CR) end--;
          if (end - pos > maxHeaderLength) this.fail('command line too long');
          this.command = buf.toString('latin1', pos, end);
          this.headers = newHeaders();
          this.headerCount = 0;
          this.contentLength = -1;
          this.frameBytes = eol + 1 - pos;
          this.escapes = escapesFor(this.command, this.version);
          this.pos = eol + 1;
          this.state = State.Headers;
          break;
        }
        case State.Headers: {
          const pos = this.pos;
          const eol = buf.indexOf(LF, pos);
          if (eol < 0) {
            if (len - pos > maxHeaderLength + 1) this.fail(`header line longer than ${maxHeaderLength} bytes`);
            if (this.frameBytes + len - pos > maxFrameSize) this.fail(`frame larger than ${maxFrameSize} bytes`);
            return;
          }
          let end = eol;
          if (end > pos && buf[end - 1] === CR) end--;
          this.frameBytes += eol + 1 - pos;
          if (this.frameBytes > maxFrameSize) this.fail(`frame larger than ${maxFrameSize} bytes`);
          this.pos = eol + 1;
          if (end === pos) {
            this.startBody();
            break;
          }
          if (end - pos > maxHeaderLength) this.fail(`header line longer than ${maxHeaderLength} bytes`);
          if (++this.headerCount > maxHeaders) this.fail(`more than ${maxHeaders} headers`);
          const colon = buf.indexOf(COLON, pos);
          if (colon < 0 || colon >= end) this.fail('header line without a colon');
          if (colon === pos) this.fail('header with an empty name');
          let name = buf.toString('utf8', pos, colon);
          let value = buf.toString('utf8', colon + 1, end);
          if (this.escapes !== null) {
            name = unescapeHeader(name, this.escapes);
            value = unescapeHeader(value, this.escapes);
          } else if (this.version === '1.0') {
            name = name.trim();
            value = value.trim();
          }
          if (!(name in this.headers)) this.headers[name] = value;
          break;
        }
        case State.Body: {
          if (this.contentLength >= 0) {
            const body = this.body!;
            const want = this.contentLength - this.filled;
            const n = Math.min(want, len - this.pos);
            if (n > 0) {
              buf.copy(body, this.filled, this.pos, this.pos + n);
              this.filled += n;
              this.pos += n;
            }
            if (this.filled < this.contentLength || this.pos >= len) return;
            if (buf[this.pos] !== NUL) this.fail('frame body not followed by NUL (content-length too small?)');
            this.pos++;
            this.emit(body);
          } else {
            const idx = buf.indexOf(NUL, Math.max(this.pos, this.scanFrom));
            if (idx < 0) {
              this.scanFrom = len;
              if (this.frameBytes + len - this.pos > maxFrameSize) this.fail(`frame larger than ${maxFrameSize} bytes`);
              return;
            }
            this.frameBytes += idx - this.pos + 1;
            if (this.frameBytes > maxFrameSize) this.fail(`frame larger than ${maxFrameSize} bytes`);
            const body = idx === this.pos ? EMPTY : Buffer.from(buf.subarray(this.pos, idx));
            this.pos = idx + 1;
            this.emit(body);
          }
          break;
        }
      }
    }
  }

  private startBody(): void {
    const cl = this.headers['content-length'];
    this.state = State.Body;
    this.scanFrom = this.pos;
    if (cl === undefined) {
      this.contentLength = -1;
      return;
    }
    let n = 0;
    if (cl.length === 0 || cl.length > 12) this.fail(`invalid content-length "${cl}"`);
    for (let i = 0; i < cl.length; i++) {
      const d = cl.charCodeAt(i) - 48;
      if (d < 0 || d > 9) this.fail(`invalid content-length "${cl}"`);
      n = n * 10 + d;
    }
    if (this.frameBytes + n + 1 > this.limits.maxFrameSize) this.fail(`frame larger than ${this.limits.maxFrameSize} bytes`);
    this.contentLength = n;
    this.body = n === 0 ? EMPTY : Buffer.allocUnsafe(n);
    this.filled = 0;
  }

  private emit(body: Buffer): void {
    const frame: StompFrame = { command: this.command, headers: this.headers, body };
    this.state = State.Command;
    this.body = null;
    this.filled = 0;
    this.headers = newHeaders();
    this.onFrame(frame);
  }
}
