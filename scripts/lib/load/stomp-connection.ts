/**
 * A minimal STOMP 1.2 client over TCP for the load scripts: CONNECT, SEND with a receipt,
 * SUBSCRIBE with client-individual acks, ACK. Frames are split on NUL (bodies here never hold one).
 */
import { connect, type Socket } from 'node:net';
import type { Endpoint } from './acked-load.js';

export interface StompFrame {
  command: string;
  headers: Record<string, string>;
  body: string;
}

function encode(command: string, headers: Record<string, string>, body = ''): string {
  const lines = [command, ...Object.entries(headers).map(([k, v]) => `${k}:${v}`)];
  return `${lines.join('\n')}\n\n${body}\0`;
}

function parse(text: string): StompFrame | null {
  const t = text.replace(/^[\r\n]+/, '');
  if (!t) return null; // heart-beat
  const split = t.indexOf('\n\n');
  const head = (split < 0 ? t : t.slice(0, split)).split('\n').map((l) => l.replace(/\r$/, ''));
  const headers: Record<string, string> = {};
  for (const line of head.slice(1)) {
    const c = line.indexOf(':');
    if (c > 0 && !(line.slice(0, c) in headers)) headers[line.slice(0, c)] = line.slice(c + 1);
  }
  return { command: head[0], headers, body: split < 0 ? '' : t.slice(split + 2) };
}

export class StompConnection {
  private socket?: Socket;
  private buffer = '';
  private receiptSeq = 0;
  private readonly receipts = new Map<string, { resolve: () => void; reject: (e: Error) => void }>();
  onMessage?: (frame: StompFrame) => void;
  /** Set when the server sent ERROR or the socket closed. */
  closed: Error | null = null;

  static async open(at: Endpoint, login?: { user: string; passcode: string }): Promise<StompConnection> {
    const c = new StompConnection();
    await c.connect(at, login);
    return c;
  }

  private connect(at: Endpoint, login?: { user: string; passcode: string }): Promise<void> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: at.host, port: at.port });
      this.socket = socket;
      socket.setEncoding('utf8');
      let connected = false;
      const fail = (err: Error) => {
        this.closed ??= err;
        for (const r of this.receipts.values()) r.reject(err);
        this.receipts.clear();
        if (!connected) reject(err);
      };
      socket.on('error', fail);
      socket.on('close', () => fail(new Error('stomp: connection closed')));
      socket.on('data', (chunk: string) => {
        this.buffer += chunk;
        let end;
        while ((end = this.buffer.indexOf('\0')) >= 0) {
          const frame = parse(this.buffer.slice(0, end));
          this.buffer = this.buffer.slice(end + 1);
          if (!frame) continue;
          if (frame.command === 'CONNECTED') {
            connected = true;
            resolve();
          } else if (frame.command === 'RECEIPT') {
            const id = frame.headers['receipt-id'];
            this.receipts.get(id)?.resolve();
            this.receipts.delete(id);
          } else if (frame.command === 'ERROR') {
            // An ERROR names the receipt of the frame it refuses (STOMP 1.2), then the server closes.
            const err = new StompError(frame.headers.message ?? 'ERROR', frame.headers);
            const id = frame.headers['receipt-id'];
            if (id && this.receipts.has(id)) {
              this.receipts.get(id)!.reject(err);
              this.receipts.delete(id);
            }
            fail(err);
          } else if (frame.command === 'MESSAGE') {
            this.onMessage?.(frame);
          }
        }
      });
      socket.once('connect', () => {
        socket.write(encode('CONNECT', { 'accept-version': '1.2', host: 'localhost', 'heart-beat': '0,0', ...(login ? { login: login.user, passcode: login.passcode } : {}) }));
      });
    });
  }

  /** Sends a frame with a receipt header; resolves on its RECEIPT. */
  request(command: string, headers: Record<string, string>, body = ''): Promise<void> {
    if (this.closed) return Promise.reject(this.closed);
    const id = `r${++this.receiptSeq}`;
    return new Promise((resolve, reject) => {
      this.receipts.set(id, { resolve, reject });
      this.socket!.write(encode(command, { ...headers, receipt: id }, body));
    });
  }

  write(command: string, headers: Record<string, string>, body = ''): void {
    if (!this.closed) this.socket!.write(encode(command, headers, body));
  }

  close(): void {
    this.closed ??= new Error('stomp: closed by us');
    this.socket?.destroy();
  }
}

export class StompError extends Error {
  constructor(message: string, readonly headers: Record<string, string>) {
    super(message);
  }
}
