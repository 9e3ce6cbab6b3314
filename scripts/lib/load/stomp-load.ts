/**
 * STOMP: persistent SENDs to a queue of its own, each with a receipt (the RECEIPT is the
 * acknowledgement, an ERROR the refusal); after a lost connection the next send opens a new one.
 * The reader subscribes with client-individual acks and ACKs every MESSAGE.
 */
import { AckedLoad, endpointOf, ReadBack, Refusal, type LoadOptions, type ReadResult } from './acked-load.js';
import { StompConnection, StompError } from './stomp-connection.js';

export class StompLoad extends AckedLoad {
  readonly name = 'stomp';
  readonly exactlyOnce = false;
  private readonly destination: string;
  private conn?: Promise<StompConnection>;
  private attempts = 0;
  private reader?: StompConnection;

  constructor(o: LoadOptions) {
    super(o);
    this.destination = `/queue/chaos.${o.prefix}.stomp`;
  }

  async prepare(): Promise<void> {
    // The queue is declared durable by the first persistent SEND; nothing to create beforehand.
    await this.connection();
  }

  private connection(): Promise<StompConnection> {
    if (!this.conn) {
      const opening = StompConnection.open(endpointOf(this.o.endpoints, 'stomp', this.attempts++));
      this.conn = opening;
      opening.catch(() => {
        if (this.conn === opening) this.conn = undefined;
      });
    }
    return this.conn;
  }

  protected async send(id: string): Promise<void> {
    const c = await this.connection();
    if (c.closed) {
      if ((await this.conn) === c) this.conn = undefined;
      throw c.closed;
    }
    try {
      await c.request('SEND', { destination: this.destination, persistent: 'true', 'content-type': 'text/plain' }, id);
    } catch (err) {
      if ((await this.conn?.catch(() => undefined)) === c) this.conn = undefined;
      throw err instanceof StompError ? new Refusal(err.message) : err;
    }
  }

  async readBack(expected: Set<string>, timeoutMs: number): Promise<ReadResult> {
    const read = new ReadBack(expected, this.o.prefix);
    const reader = await StompConnection.open(endpointOf(this.o.endpoints, 'stomp'));
    this.reader = reader;
    reader.onMessage = (m) => {
      read.count(m.body);
      reader.write('ACK', { id: m.headers.ack ?? m.headers['message-id'] });
    };
    await reader.request('SUBSCRIBE', { id: 'chaos', destination: this.destination, ack: 'client-individual' });
    return read.done(timeoutMs);
  }

  async close(): Promise<void> {
    (await this.conn?.catch(() => undefined))?.close();
    this.reader?.close();
  }
}
