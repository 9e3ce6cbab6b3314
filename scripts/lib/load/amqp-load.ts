/**
 * AMQP 1.0 (rhea): durable messages to a queue of its own on an unsettled sender link; the
 * `accepted` disposition is the acknowledgement, `rejected` / `released` / `modified` the refusal.
 * A lost connection fails what is in flight; rhea reconnects and re-attaches the link by itself.
 * The reader accepts every delivery.
 */
import rhea from 'rhea';
import type { Connection, Delivery, EventContext, Sender } from 'rhea';
import { AckedLoad, endpointOf, ReadBack, Refusal, type LoadOptions, type ReadResult } from './acked-load.js';

interface Pending {
  resolve: () => void;
  reject: (e: Error) => void;
}

export class AmqpLoad extends AckedLoad {
  readonly name = 'amqp';
  readonly exactlyOnce = false;
  private readonly address: string;
  private connection?: Connection;
  private sender?: Sender;
  private readerConnection?: Connection;
  private readonly pending = new Map<Delivery, Pending>();
  /** Resolves when the sender link has credit; replaced (once) at each disconnect. */
  private ready?: Promise<void>;
  private markReady?: () => void;

  constructor(o: LoadOptions) {
    super(o);
    this.address = `/queue/chaos.${o.prefix}.amqp`;
  }

  private open(onOpen?: (c: Connection) => void): Connection {
    const container = rhea.create_container({ id: `${this.o.prefix}-amqp-${Math.random().toString(36).slice(2, 8)}` });
    let attempt = 0;
    const first = endpointOf(this.o.endpoints, 'amqp', attempt++);
    const c = container.connect({
      host: first.host, port: first.port, reconnect: true, initial_reconnect_delay: 100, max_reconnect_delay: 500,
      // rhea calls this before each reconnect: ask the broker under test where to go now.
      connection_details: () => {
        const e = endpointOf(this.o.endpoints, 'amqp', attempt++);
        return { host: e.host, port: e.port };
      },
      idle_time_out: 10000,
    } as never);
    c.on('connection_error', () => undefined);
    c.on('error', () => undefined);
    c.on('disconnected', () => undefined);
    onOpen?.(c);
    return c;
  }

  async prepare(): Promise<void> {
    this.notReady();
    const c = this.open();
    this.connection = c;
    const sender = c.open_sender({ target: { address: this.address }, autosettle: true });
    this.sender = sender;
    sender.on('sendable', () => {
      this.markReady?.();
      this.markReady = undefined;
    });
    sender.on('accepted', (ctx: EventContext) => this.settle(ctx.delivery!, null));
    const refuse = (outcome: string) => (ctx: EventContext) => {
      const error = (ctx.delivery?.remote_state as { error?: { condition?: string; description?: string } } | undefined)?.error;
      this.settle(ctx.delivery!, new Refusal(`amqp: ${outcome}${error ? ` ${error.condition}: ${error.description ?? ''}` : ''}`));
    };
    sender.on('rejected', refuse('rejected'));
    sender.on('released', refuse('released'));
    sender.on('modified', refuse('modified'));
    c.on('disconnected', () => {
      // Every failed reconnect attempt says disconnected again: keep the promise the workers wait on.
      if (!this.markReady) this.notReady();
      const err = new Error('amqp: disconnected');
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    });
    await this.ready;
  }

  private notReady(): void {
    this.ready = new Promise((resolve) => (this.markReady = resolve));
  }

  private settle(d: Delivery, err: Error | null): void {
    const p = this.pending.get(d);
    if (!p) return;
    this.pending.delete(d);
    if (err) p.reject(err);
    else p.resolve();
  }

  protected async send(id: string): Promise<void> {
    await this.ready;
    const sender = this.sender!;
    if (!sender.sendable()) {
      await new Promise((r) => setTimeout(r, 20));
      throw new Error('amqp: no credit');
    }
    await new Promise<void>((resolve, reject) => {
      const d = sender.send({ body: id, durable: true, message_id: id });
      this.pending.set(d, { resolve, reject });
    });
  }

  async readBack(expected: Set<string>, timeoutMs: number): Promise<ReadResult> {
    const read = new ReadBack(expected, this.o.prefix);
    const c = this.open();
    this.readerConnection = c;
    const receiver = c.open_receiver({ source: { address: this.address }, autoaccept: true, credit_window: 200 });
    receiver.on('message', (ctx: EventContext) => {
      const body = ctx.message?.body as unknown;
      const text = typeof body === 'string' ? body : Buffer.isBuffer(body) ? body.toString() : (body as { content?: Buffer })?.content?.toString() ?? '';
      read.count(text);
    });
    return read.done(timeoutMs);
  }

  async close(): Promise<void> {
    for (const c of [this.connection, this.readerConnection]) {
      if (!c) continue;
      c.options.reconnect = false;
      c.close();
      c.socket?.destroy?.();
    }
  }
}
