/**
 * STOMP test helpers: a broker with only the STOMP adapter (startBroker), a log recorder, a raw
 * TCP STOMP client for codec and edge cases, and @stomp/stompjs over WebSocket (ws).
 */
import { connect as netConnect, type Socket } from 'node:net';
import { Client, type IFrame, type IMessage, type StompConfig, type StompSubscription } from '@stomp/stompjs';
import { WebSocket } from 'ws';
import { StompParser } from '../../adapters/stomp/parser.js';
import type { StompFrame, StompVersion } from '../../adapters/stomp/frame.js';
import { recordingLogger, startBroker, TEST_HOST, type LogRecord, type RunningBroker, type StartOptions } from '../support/index.js';

export { recordingLogger, type LogRecord };

export interface StompBroker {
  b: RunningBroker;
  port: number;
  wsUrl: string;
  logs: LogRecord[];
  close(): Promise<void>;
}

export async function startStomp(options: StartOptions = {}): Promise<StompBroker> {
  const logger = recordingLogger();
  const b = await startBroker({ protocols: ['stomp'], logger, ...options });
  return {
    b,
    port: b.ports.stomp!,
    wsUrl: `ws://${TEST_HOST}:${b.ports.http}/stomp`,
    logs: logger.records,
    close: () => b.close(),
  };
}

export function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A raw STOMP client over TCP: writes bytes as given, reads frames with the adapter's parser. */
export class RawStomp {
  readonly frames: StompFrame[] = [];
  private waiters: Array<() => void> = [];
  readonly closed: Promise<void>;
  isClosed = false;
  readonly parser: StompParser;
  heartbeats = 0;

  private constructor(readonly socket: Socket) {
    this.parser = new StompParser({ maxFrameSize: 64 * 1024 * 1024, maxHeaders: 100000, maxHeaderLength: 1024 * 1024 }, (f) => {
      this.frames.push(f);
      if (f.command === 'CONNECTED' && f.headers.version) this.parser.version = f.headers.version as StompVersion;
      this.wake();
    });
    socket.on('data', (d) => {
      const before = this.parser.heartbeats;
      this.parser.push(d);
      this.heartbeats += this.parser.heartbeats - before;
    });
    socket.on('error', () => undefined);
    this.closed = new Promise((resolve) => socket.on('close', () => {
      this.isClosed = true;
      this.wake();
      resolve();
    }));
  }

  static open(port: number): Promise<RawStomp> {
    return new Promise((resolve, reject) => {
      const s = netConnect({ host: TEST_HOST, port }, () => resolve(new RawStomp(s)));
      s.once('error', reject);
    });
  }

  /** Opens and sends CONNECT; resolves with the CONNECTED frame. */
  static async connect(port: number, headers: Record<string, string> = { 'accept-version': '1.2', host: '/' }): Promise<RawStomp> {
    const c = await RawStomp.open(port);
    c.send('CONNECT', headers);
    const f = await c.next();
    if (f.command !== 'CONNECTED') throw new Error(`expected CONNECTED, got ${f.command} ${f.headers.message ?? ''}`);
    return c;
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Writes a frame (no escaping: give values as they must appear on the wire). */
  send(command: string, headers: Record<string, string> = {}, body: string | Buffer = ''): void {
    let head = command + '\n';
    for (const [k, v] of Object.entries(headers)) head += `${k}:${v}\n`;
    this.write(Buffer.concat([Buffer.from(head + '\n'), Buffer.isBuffer(body) ? body : Buffer.from(body), Buffer.from([0])]));
  }

  /** The next frame (waits up to timeoutMs). */
  async next(timeoutMs = 5000): Promise<StompFrame> {
    const end = Date.now() + timeoutMs;
    while (this.frames.length === 0) {
      if (this.isClosed) throw new Error('connection closed while waiting for a frame');
      const left = end - Date.now();
      if (left <= 0) throw new Error('timed out waiting for a frame');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => { clearTimeout(t); resolve(); });
      });
    }
    return this.frames.shift()!;
  }

  /**
   * The first frame (in arrival order) that `pred` accepts, removed from the list; others stay.
   * An ERROR frame that `pred` does not accept fails the wait with its message.
   */
  async take(pred: (f: StompFrame) => boolean, what: string, timeoutMs = 5000): Promise<StompFrame> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const i = this.frames.findIndex(pred);
      if (i >= 0) return this.frames.splice(i, 1)[0];
      const err = this.frames.find((f) => f.command === 'ERROR');
      if (err) throw new Error(`expected ${what}, got ERROR: ${err.headers.message} ${err.body.toString()}`);
      if (this.isClosed) throw new Error(`connection closed while waiting for ${what}`);
      const left = end - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => { clearTimeout(t); resolve(); });
      });
    }
  }

  /** The first frame of `command`. */
  expect(command: string, timeoutMs = 5000): Promise<StompFrame> {
    return this.take((f) => f.command === command, command, timeoutMs);
  }

  /** Sends a frame with a receipt and waits for its RECEIPT (other frames stay queued). */
  async sendWithReceipt(command: string, headers: Record<string, string>, body: string | Buffer = '', receipt = `r-${Math.random().toString(36).slice(2)}`): Promise<void> {
    this.send(command, { ...headers, receipt }, body);
    await this.take((f) => f.command === 'RECEIPT' && f.headers['receipt-id'] === receipt, `RECEIPT ${receipt}`);
  }

  /** Nothing arrives within `ms` (a bounded wait, not a timing assertion). */
  async quiet(ms = 150): Promise<void> {
    await delay(ms);
    if (this.frames.length > 0) throw new Error(`unexpected frame ${this.frames[0].command} ${JSON.stringify(this.frames[0].headers)}`);
  }

  async disconnect(): Promise<void> {
    if (this.isClosed) return;
    await this.sendWithReceipt('DISCONNECT', {}).catch(() => undefined);
    this.socket.end();
    await this.closed;
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** @stomp/stompjs over WebSocket, resolved once CONNECTED. */
/** A stompjs SUBSCRIBE with a receipt: resolves once the broker has the subscription. */
export function subscribed(client: Client, destination: string, onMessage: (m: IMessage) => void, headers: Record<string, string> = {}): Promise<StompSubscription> {
  const receipt = `sub-${++receipts}`;
  return new Promise((resolve) => {
    let sub: StompSubscription;
    client.watchForReceipt(receipt, () => resolve(sub));
    sub = client.subscribe(destination, onMessage, { ...headers, receipt });
  });
}
let receipts = 0;

export function stompjs(url: string, config: StompConfig = {}): Promise<Client> {
  return new Promise((resolve, reject) => {
    const client = new Client({
      webSocketFactory: () => new WebSocket(url, ['v12.stomp', 'v11.stomp', 'v10.stomp']),
      reconnectDelay: 0,
      heartbeatIncoming: 0,
      heartbeatOutgoing: 0,
      debug: () => undefined,
      ...config,
      onConnect: (f: IFrame) => {
        config.onConnect?.(f);
        resolve(client);
      },
      onStompError: (f: IFrame) => reject(new Error(`STOMP ERROR ${f.headers.message}`)),
      onWebSocketError: () => reject(new Error('WebSocket error')),
    });
    client.activate();
  });
}
