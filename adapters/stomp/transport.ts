/**
 * The byte pipe under a STOMP connection: a TCP or TLS socket, or a WebSocket (where a message
 * may hold one frame, several, or part of one: the parser sees a byte stream either way).
 */
import { isUtf8 } from 'node:buffer';
import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import type { ByteCounters } from '../../core/connection-registry.js';

export interface TransportEvents {
  data(chunk: Buffer): void;
  /** The queued output fell below the low-water mark after being above it. */
  drain(): void;
  /** The peer finished sending (TCP FIN); our side stays open until we end it. */
  end(): void;
  close(): void;
}

export interface Transport {
  readonly kind: 'tcp' | 'tls' | 'ws';
  readonly remote: string;
  /** The socket's byte counts (for a WebSocket, its HTTP socket's). */
  readonly counters?: ByteCounters;
  /** Bytes written but not yet handed to the kernel. */
  readonly pending: number;
  write(data: Buffer): void;
  pauseReading(): void;
  resumeReading(): void;
  /** Flushes queued output, then closes. */
  end(): void;
  destroy(): void;
  bind(events: TransportEvents): void;
}

export class SocketTransport implements Transport {
  readonly remote: string;
  private corked = false;
  private readonly uncork = () => {
    this.corked = false;
    this.socket.uncork();
  };

  get counters(): ByteCounters {
    return this.socket;
  }

  constructor(private readonly socket: Socket, readonly kind: 'tcp' | 'tls') {
    this.remote = `${socket.remoteAddress}:${socket.remotePort}`;
    socket.setNoDelay(true);
  }

  bind(events: TransportEvents): void {
    this.socket.on('data', events.data);
    this.socket.on('drain', events.drain);
    this.socket.on('end', events.end);
    this.socket.on('close', events.close);
    this.socket.on('error', () => { /* 'close' follows */ });
  }

  get pending(): number {
    return this.socket.writableLength;
  }

  write(data: Buffer): void {
    if (this.socket.destroyed) return;
    if (!this.corked) {
      // Frames written in one tick go out in one syscall.
      this.corked = true;
      this.socket.cork();
      process.nextTick(this.uncork);
    }
    this.socket.write(data);
  }

  pauseReading(): void {
    this.socket.pause();
  }

  resumeReading(): void {
    this.socket.resume();
  }

  end(): void {
    this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }
}

export class WebSocketTransport implements Transport {
  readonly kind = 'ws' as const;
  private queued = 0;
  private needDrain = false;
  private events?: TransportEvents;

  constructor(private readonly ws: WebSocket, readonly remote: string, private readonly lowWater: number, readonly counters?: ByteCounters) {}

  bind(events: TransportEvents): void {
    this.events = events;
    this.ws.on('message', (data: Buffer | ArrayBuffer | Buffer[]) => {
      if (Buffer.isBuffer(data)) events.data(data);
      else if (Array.isArray(data)) events.data(Buffer.concat(data));
      else events.data(Buffer.from(data));
    });
    this.ws.on('close', events.close);
    this.ws.on('error', () => { /* 'close' follows */ });
  }

  get pending(): number {
    return this.queued;
  }

  write(data: Buffer): void {
    if (this.ws.readyState !== 1) return;
    const n = data.length;
    this.queued += n;
    // Text frames where the bytes are UTF-8 (what browsers' STOMP clients expect), binary otherwise.
    this.ws.send(data, { binary: !isUtf8(data) }, () => {
      this.queued -= n;
      if (this.needDrain && this.queued <= this.lowWater) {
        this.needDrain = false;
        this.events?.drain();
      }
    });
    if (this.queued > this.lowWater) this.needDrain = true;
  }

  pauseReading(): void {
    this.ws.pause();
  }

  resumeReading(): void {
    this.ws.resume();
  }

  end(): void {
    if (this.ws.readyState === 1) this.ws.close(1000);
  }

  destroy(): void {
    this.ws.terminate();
  }
}
