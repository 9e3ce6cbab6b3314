/**
 * The byte side of one XMPP connection: a TCP socket (upgraded in place by STARTTLS) or a
 * WebSocket (RFC 7395). It limits the inbound byte rate (token bucket), pauses reading for named
 * reasons (rate, a halted parser, a full stanza queue, a TLS handshake) and resumes once none is
 * left, gathers one tick's writes into one (cork), and reports congestion and its end.
 */
import type { Socket } from 'node:net';
import { TLSSocket, type SecureContext } from 'node:tls';
import type { WebSocket } from 'ws';
import type { Logger } from '../../core/adapter.js';

export interface TransportEvents {
  /** Bytes from a TCP socket; false: the parser halted (reading pauses as 'halt'). */
  bytes(data: Buffer): boolean;
  /** A WebSocket message (`binary`: not a text frame). */
  message(data: Buffer, binary: boolean): void;
  /** The client half-closed (FIN). */
  ended(): void;
  /** The transport closed (our end, the client's close, or a reset). */
  closed(): void;
}

export interface TransportLimits {
  rateBytesPerSecond: number;
  rateBurstBytes: number;
  sendHighWaterBytes: number;
}

export class XmppTransport {
  socket: Socket | null = null;
  ws: WebSocket | null = null;
  /** Set once the connection is finished: no more reading or writing. */
  stopped = false;
  private readonly pauses = new Set<string>();
  private tokens: number;
  private lastRefill = Date.now();
  private rateTimer?: NodeJS.Timeout;
  private drainWaiters: Array<() => void> = [];
  private corked = false;
  private wsBytesPending = 0;

  constructor(
    private readonly events: TransportEvents,
    private readonly limits: TransportLimits,
    private readonly log: Logger,
    private readonly connId: string,
    transport: { socket: Socket } | { ws: WebSocket },
  ) {
    this.tokens = limits.rateBurstBytes;
    if ('ws' in transport) this.attachWs(transport.ws);
    else this.attachSocket(transport.socket);
  }

  /** Reading is paused for some reason (a paused client cannot be heard, so it is not idle). */
  get paused(): boolean {
    return this.pauses.size > 0;
  }

  private readonly onData = (data: Buffer): void => {
    if (this.stopped) return;
    const rate = this.limits.rateBytesPerSecond;
    if (rate > 0) {
      const now = Date.now();
      this.tokens = Math.min(this.limits.rateBurstBytes, this.tokens + ((now - this.lastRefill) * rate) / 1000);
      this.lastRefill = now;
      this.tokens -= data.length;
      if (this.tokens < 0 && !this.rateTimer) {
        this.pause('rate');
        this.rateTimer = setTimeout(() => { this.rateTimer = undefined; this.resume('rate'); }, Math.ceil((-this.tokens / rate) * 1000));
      }
    }
    if (!this.events.bytes(data)) this.pause('halt');
  };

  private readonly onSocketClose = (): void => this.events.closed();
  private readonly onSocketEnd = (): void => this.events.ended();
  private readonly onSocketError = (e: Error): void => { this.log.debug({ conn: this.connId, err: e.message }, 'xmpp: socket error'); };
  private readonly onSocketDrain = (): void => this.drained();

  private attachSocket(socket: Socket): void {
    this.socket = socket;
    socket.on('data', this.onData);
    socket.on('close', this.onSocketClose);
    socket.on('end', this.onSocketEnd);
    socket.on('error', this.onSocketError);
    socket.on('drain', this.onSocketDrain);
  }

  private detachSocket(socket: Socket): void {
    socket.off('data', this.onData);
    socket.off('close', this.onSocketClose);
    socket.off('end', this.onSocketEnd);
    socket.off('error', this.onSocketError);
    socket.off('drain', this.onSocketDrain);
  }

  private attachWs(ws: WebSocket): void {
    this.ws = ws;
    ws.on('message', (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
      if (this.stopped) return;
      const buf = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
      this.events.message(buf, isBinary);
    });
    ws.on('close', () => this.events.closed());
    ws.on('error', (e) => this.log.debug({ conn: this.connId, err: e.message }, 'xmpp: websocket error'));
  }

  pause(reason: string): void {
    if (this.pauses.size === 0) {
      if (this.socket) this.socket.pause();
      else this.ws?.pause();
    }
    this.pauses.add(reason);
  }

  resume(reason: string): void {
    if (!this.pauses.delete(reason) || this.pauses.size > 0 || this.stopped) return;
    if (this.socket) this.socket.resume();
    else this.ws?.resume();
  }

  write(data: string): void {
    if (this.ws) {
      this.wsBytesPending += data.length;
      this.ws.send(data, () => {
        this.wsBytesPending -= data.length;
        if (this.wsBytesPending <= this.limits.sendHighWaterBytes / 2) this.drained();
      });
      return;
    }
    const sock = this.socket!;
    if (!this.corked) {
      this.corked = true;
      sock.cork();
      process.nextTick(() => { this.corked = false; sock.uncork(); });
    }
    sock.write(data);
  }

  get congested(): boolean {
    if (this.stopped) return false;
    if (this.ws) return this.wsBytesPending > this.limits.sendHighWaterBytes;
    return (this.socket?.writableLength ?? 0) > this.limits.sendHighWaterBytes;
  }

  whenDrained(cb: () => void): void {
    if (!this.congested) {
      cb();
      return;
    }
    this.drainWaiters.push(cb);
  }

  private drained(): void {
    if (this.drainWaiters.length === 0 || this.congested) return;
    for (const w of this.drainWaiters.splice(0)) w();
  }

  /**
   * STARTTLS (RFC 6120 5): the TCP socket is wrapped in TLS in place; reading stays paused ('tls')
   * until the handshake is done. `secured` returns whether the parser goes on (false: it halted
   * again), or null when the client certificate was refused (the socket is being closed).
   */
  startTls(options: { secureContext: SecureContext; requestCert: boolean; rejectUnauthorized: boolean }, secured: (tls: TLSSocket) => boolean | null): void {
    const raw = this.socket!;
    this.detachSocket(raw);
    raw.resume();
    const secure = new TLSSocket(raw, { isServer: true, ...options });
    this.attachSocket(secure);
    this.pauses.clear();
    this.pause('tls');
    secure.resume();
    secure.once('secure', () => {
      const cont = secured(secure);
      if (cont === null) return;
      this.pauses.delete('halt');
      this.pauses.delete('tls');
      if (cont && this.pauses.size === 0) secure.resume();
      else if (!cont) this.pause('halt');
    });
  }

  /** The TLS socket when the stream is encrypted (for EXTERNAL and certificate checks). */
  get tls(): TLSSocket | null {
    return this.socket instanceof TLSSocket ? this.socket : null;
  }

  /** Ends the transport (a grace period, then the socket is destroyed). */
  end(): void {
    if (this.ws) {
      try { this.ws.close(1000); } catch { /* already closing */ }
    } else {
      this.socket?.end();
      const s = this.socket;
      setTimeout(() => s?.destroy(), 2000).unref();
    }
  }

  /** The connection finished: timers cleared, drain waiters released. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.rateTimer);
    for (const w of this.drainWaiters.splice(0)) w();
  }
}
