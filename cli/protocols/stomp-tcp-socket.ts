/**
 * @stomp/stompjs speaks STOMP over anything shaped like a WebSocket (its IStompSocket); this
 * adapts a plain TCP (or TLS) socket to that shape, as the stompjs guide describes for Node, so
 * the CLI reaches the STOMP listener on 61613 directly instead of the WebSocket endpoint.
 * stompjs's parser is incremental, so chunks are handed over as they arrive.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { TlsOptions } from './types.js';

const CONNECTING = 0;
const OPEN = 1;
const CLOSED = 3;

export class StompTcpSocket {
  url: string;
  binaryType = 'arraybuffer';
  readyState = CONNECTING;
  onopen: ((ev?: unknown) => unknown) | null = null;
  onclose: ((ev?: unknown) => unknown) | null = null;
  onerror: ((ev: unknown) => unknown) | null = null;
  onmessage: ((ev: { data: ArrayBuffer }) => unknown) | null = null;
  /** The last socket error, for a one-line report. */
  lastError: Error | null = null;
  private readonly socket: Socket;

  constructor(host: string, port: number, tls: TlsOptions | null) {
    this.url = `${tls ? 'stomps' : 'stomp'}://${host}:${port}`;
    this.socket = tls ? tlsConnect({ host, port, servername: host, ...tls }) : netConnect({ host, port });
    this.socket.once(tls ? 'secureConnect' : 'connect', () => {
      this.readyState = OPEN;
      this.onopen?.();
    });
    this.socket.on('data', (chunk: Buffer) => {
      const copy = chunk.buffer.slice(chunk.byteOffset, chunk.byteOffset + chunk.byteLength) as ArrayBuffer;
      this.onmessage?.({ data: copy });
    });
    this.socket.on('error', (err) => {
      this.lastError = err;
      this.onerror?.(err);
    });
    this.socket.on('close', () => {
      this.readyState = CLOSED;
      this.onclose?.({ code: 1000, reason: this.lastError?.message ?? 'closed' });
    });
  }

  send(data: string | ArrayBufferLike | ArrayBufferView): void {
    if (typeof data === 'string') this.socket.write(data);
    else if (ArrayBuffer.isView(data)) this.socket.write(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    else this.socket.write(Buffer.from(data as ArrayBuffer));
  }

  close(): void {
    this.socket.end();
  }

  terminate(): void {
    this.socket.destroy();
  }
}
