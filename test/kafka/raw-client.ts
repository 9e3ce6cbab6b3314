/**
 * A bare Kafka protocol client for tests that need exact control over the bytes: requests
 * encoded with the adapter's own schemas, responses matched by correlation id in arrival order.
 */
import { connect, type Socket } from 'node:net';
import { apiByKey, hasFlexibleResponseHeader, isFlexibleRequest } from '../../adapters/kafka/protocol/apis.js';
import { codecFor, type Struct } from '../../adapters/kafka/protocol/schema.js';
import { KafkaReader, KafkaWriter } from '../../adapters/kafka/protocol/wire.js';
import { FrameReader } from '../../adapters/kafka/frame-reader.js';

export interface RawResponse {
  correlationId: number;
  body: Buffer;
}

export class RawKafkaClient {
  private readonly frames = new FrameReader(1 << 30);
  private readonly received: Buffer[] = [];
  private waiters: Array<() => void> = [];
  private nextCorrelation = 1;
  closed = false;

  private constructor(readonly socket: Socket) {
    socket.on('data', (d: Buffer) => {
      for (const f of this.frames.split(d)) this.received.push(f);
      this.wakeAll();
    });
    socket.on('close', () => { this.closed = true; this.wakeAll(); });
    socket.on('error', () => undefined);
  }

  static connect(port: number, host = '127.0.0.1'): Promise<RawKafkaClient> {
    return new Promise((resolve, reject) => {
      const s = connect(port, host, () => resolve(new RawKafkaClient(s)));
      s.once('error', reject);
    });
  }

  private wakeAll(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Encodes a request frame (header v1/v2 per the version's flexibility). */
  encode(apiKey: number, version: number, body: Struct, correlationId = this.nextCorrelation++): Buffer {
    const api = apiByKey(apiKey)!;
    const w = new KafkaWriter();
    w.int32(0).int16(apiKey).int16(version).int32(correlationId).string('raw-client', false);
    if (isFlexibleRequest(api, version)) w.uvarint(0);
    codecFor(api.request, version).write(w, body);
    const frame = w.toBuffer();
    frame.writeInt32BE(frame.length - 4, 0);
    return frame;
  }

  sendRaw(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  send(apiKey: number, version: number, body: Struct): number {
    const correlationId = this.nextCorrelation++;
    this.socket.write(this.encode(apiKey, version, body, correlationId));
    return correlationId;
  }

  /** The next response frame, raw (correlation id + rest). Null when the connection closed first. */
  async nextFrame(timeoutMs = 10000): Promise<Buffer | null> {
    const end = Date.now() + timeoutMs;
    while (this.received.length === 0) {
      if (this.closed) return null;
      if (Date.now() > end) throw new Error('no response in time');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.max(end - Date.now(), 1));
        this.waiters.push(() => { clearTimeout(t); resolve(); });
      });
    }
    return this.received.shift()!;
  }

  /** Decodes the next response as `apiKey` at `version`. */
  async response(apiKey: number, version: number, timeoutMs?: number): Promise<Struct & { correlationId: number }> {
    const frame = await this.nextFrame(timeoutMs);
    if (!frame) throw new Error('connection closed');
    const api = apiByKey(apiKey)!;
    const r = new KafkaReader(frame);
    const correlationId = r.int32();
    if (hasFlexibleResponseHeader(api, version)) r.taggedFields();
    const body = codecFor(api.response, version).read(r);
    if (r.remaining !== 0) throw new Error(`${r.remaining} bytes left after ${api.name} v${version} response`);
    return { ...body, correlationId };
  }

  async request(apiKey: number, version: number, body: Struct): Promise<Struct> {
    this.send(apiKey, version, body);
    return this.response(apiKey, version);
  }

  /** Resolves when the broker closes the connection. */
  async waitClosed(timeoutMs = 5000): Promise<boolean> {
    const end = Date.now() + timeoutMs;
    while (!this.closed && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    return this.closed;
  }

  close(): void {
    this.socket.destroy();
  }
}
