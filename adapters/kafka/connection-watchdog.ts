/**
 * Closes connections that hold a slot without doing work: one that has not finished its handshake
 * (first request, and SASL when required) within the handshake timeout, and one that stopped
 * sending in the middle of a request for that long. One lazy timer per connection, re-armed only
 * when it fires, so bytes arriving cost a timestamp, not a timer reset.
 */

export interface WatchedConnection {
  /** True once the first request arrived (and the client authenticated where that is required). */
  readonly handshakeDone: boolean;
  /** True while part of a request has arrived and the connection is reading the rest. */
  readonly awaitingRestOfRequest: boolean;
  /** Closes the connection; `why` is logged. */
  expire(why: string): void;
}

export class ConnectionWatchdog {
  private timer: NodeJS.Timeout | null = null;
  private readonly openedAt = Date.now();
  private lastBytesAt = Date.now();
  private stopped = false;

  constructor(private readonly conn: WatchedConnection, private readonly timeoutMs: number) {}

  /** Bytes arrived. */
  bytesArrived(): void {
    this.lastBytesAt = Date.now();
  }

  /** The connection's state changed: arms the timer if something is now being waited for. */
  check(): void {
    if (this.stopped || this.timer !== null) return;
    const wait = this.remaining(Date.now());
    if (wait === null) return;
    this.timer = setTimeout(() => this.fire(), Math.max(wait, 1));
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private fire(): void {
    this.timer = null;
    if (this.stopped) return;
    const now = Date.now();
    const wait = this.remaining(now);
    if (wait !== null && wait <= 0) {
      this.conn.expire(this.conn.handshakeDone ? `no bytes of the rest of a request for ${this.timeoutMs} ms` : `handshake not completed within ${this.timeoutMs} ms`);
      return;
    }
    this.check();
  }

  /** Milliseconds until the deadline of what is awaited, or null when nothing is. */
  private remaining(now: number): number | null {
    if (!this.conn.handshakeDone) return this.openedAt + this.timeoutMs - now;
    if (this.conn.awaitingRestOfRequest) return this.lastBytesAt + this.timeoutMs - now;
    return null;
  }
}
