/**
 * Test support for the AMQP adapter: a broker started through the platform (test/support
 * startBroker) with the adapter on ephemeral ports, users in memory, and promise wrappers around
 * rhea as a client.
 */
import net from 'node:net';
import rhea from 'rhea';
import type { Broker } from '../../core/broker.js';
import { AmqpAdapter } from '../../adapters/amqp/index.js';
import { startBroker, type TestBrokerOptions } from '../support/index.js';

export interface Harness {
  broker: Broker;
  adapter: AmqpAdapter;
  port: number;
  tlsPort?: number;
  stop(): Promise<void>;
}

/** A broker with only the AMQP adapter; `amqp` is the `amqp:` section. */
export async function startAmqp(amqp: Record<string, unknown> = {}, options: TestBrokerOptions = {}): Promise<Harness> {
  const adapter = new AmqpAdapter();
  const b = await startBroker({ ...options, protocols: [], extraAdapters: [adapter], amqp });
  return { broker: b.broker, adapter, port: b.ports.amqp!, tlsPort: b.ports['amqp-tls'], stop: () => b.close() };
}

export type RheaConnection = rhea.Connection;

/** Opens a rhea client connection and waits for the broker's open. */
export function connect(port: number, options: Record<string, unknown> = {}): Promise<rhea.Connection> {
  const container = rhea.create_container({ id: (options.container_id as string | undefined) ?? `test-${Math.random().toString(36).slice(2)}` });
  return new Promise((resolve, reject) => {
    const c = container.connect({ host: '127.0.0.1', port, reconnect: false, ...options } as rhea.ConnectionOptions);
    c.once('connection_open', () => resolve(c));
    c.once('connection_error', (ctx) => reject((ctx as { error?: unknown }).error ?? ctx.connection.error ?? new Error('connection error')));
    c.on('protocol_error', () => undefined);
    c.once('disconnected', (ctx) => reject(ctx.error ?? new Error('disconnected')));
    c.on('error', () => undefined);
    c.setMaxListeners(1000);
  });
}

export function close(c: rhea.Connection): Promise<void> {
  return new Promise((resolve) => {
    if (c.is_closed()) { resolve(); return; }
    c.once('connection_close', () => resolve());
    c.once('disconnected', () => resolve());
    c.close();
  });
}

/**
 * A fresh broker and one rhea connection to it for every test of the calling describe block
 * (mocha hooks); `use` receives them before each test.
 */
export function brokerPerTest(use: (h: Harness, c: rhea.Connection) => void): void {
  let h: Harness;
  let c: rhea.Connection;
  beforeEach(async () => {
    h = await startAmqp();
    c = await connect(h.port);
    use(h, c);
  });
  afterEach(async () => {
    await close(c);
    await h.stop();
  });
}

/** A terminus in an attach (rhea gives a Typed null for an absent one). */
function present(t: unknown): boolean {
  return t !== null && t !== undefined && (t as { type?: { name?: string } }).type?.name !== 'Null';
}

/** Opens a sender; resolves on the broker's attach (rejects on a detach with an error). */
export function openSender(c: rhea.Connection | rhea.Session, options: rhea.SenderOptions | string): Promise<rhea.Sender> {
  return new Promise((resolve, reject) => {
    const s = (c as rhea.Connection).open_sender(options as rhea.SenderOptions);
    s.setMaxListeners(1000);
    // A refused attach comes back with a null target, then a detach with the error.
    s.once('sender_open', () => { if (present((s as unknown as { remote: { attach: { target: unknown } } }).remote.attach.target)) resolve(s); });
    s.once('sender_error', (ctx) => reject(Object.assign(new Error(ctx.sender?.error?.description ?? 'sender error'), { condition: (ctx.sender?.error as { condition?: string })?.condition })));
  });
}

/** Opens a receiver (credit_window 0 unless given); resolves on the broker's attach. */
export function openReceiver(c: rhea.Connection | rhea.Session, options: rhea.ReceiverOptions | string): Promise<rhea.Receiver> {
  const o: rhea.ReceiverOptions = typeof options === 'string' ? { source: options } : options;
  return new Promise((resolve, reject) => {
    const r = (c as rhea.Connection).open_receiver({ credit_window: 0, autoaccept: false, ...o });
    r.once('receiver_open', () => { if (present((r as unknown as { remote: { attach: { source: unknown } } }).remote.attach.source)) resolve(r); });
    r.once('receiver_error', (ctx) => reject(Object.assign(new Error(ctx.receiver?.error?.description ?? 'receiver error'), { condition: (ctx.receiver?.error as { condition?: string })?.condition })));
  });
}

/** Waits for the attach to be refused: resolves with the error condition. */
export function refusal(link: Promise<unknown>): Promise<string> {
  return link.then(
    () => { throw new Error('link was not refused'); },
    (e: { condition?: string }) => e.condition ?? 'none',
  );
}

/** Sends and waits for the outcome: 'accepted', 'rejected:<condition>', 'released', 'settled'. */
export function send(s: rhea.Sender, msg: rhea.Message): Promise<string> {
  return new Promise((resolve) => {
    const d = s.send(msg);
    const onAccepted = (ctx: rhea.EventContext) => { if (ctx.delivery === d) { cleanup(); resolve('accepted'); } };
    const onRejected = (ctx: rhea.EventContext) => {
      if (ctx.delivery === d) {
        cleanup();
        const err = (ctx.delivery as unknown as { remote_state?: { error?: { condition?: string } } }).remote_state?.error;
        resolve(`rejected:${err?.condition ?? ''}`);
      }
    };
    const onReleased = (ctx: rhea.EventContext) => { if (ctx.delivery === d) { cleanup(); resolve('released'); } };
    const cleanup = () => { s.off('accepted', onAccepted); s.off('rejected', onRejected); s.off('released', onReleased); };
    s.on('accepted', onAccepted);
    s.on('rejected', onRejected);
    s.on('released', onReleased);
  });
}

/** Waits until the sender has credit. */
export function sendable(s: rhea.Sender): Promise<void> {
  if (s.sendable()) return Promise.resolve();
  return new Promise((resolve) => s.once('sendable', () => resolve()));
}

export interface Received {
  message: rhea.Message;
  delivery: rhea.Delivery;
}

/** Collects `n` messages from a receiver, giving it `credit` (default n) first. */
export function receive(r: rhea.Receiver, n: number, credit = n): Promise<Received[]> {
  return new Promise((resolve) => {
    const out: Received[] = [];
    const onMessage = (ctx: rhea.EventContext) => {
      out.push({ message: ctx.message!, delivery: ctx.delivery! });
      if (out.length === n) {
        r.off('message', onMessage);
        resolve(out);
      }
    };
    r.on('message', onMessage);
    if (credit > 0) r.add_credit(credit);
  });
}

/**
 * Drains a receiver: resolves with the messages that arrived before the drain completed. By default
 * the credit and the drain go in two flows; `oneFlow` sends a single flow carrying both.
 */
export function drain(r: rhea.Receiver, credit: number, oneFlow = false): Promise<Received[]> {
  return new Promise((resolve) => {
    const out: Received[] = [];
    const onMessage = (ctx: rhea.EventContext) => out.push({ message: ctx.message!, delivery: ctx.delivery! });
    r.on('message', onMessage);
    r.once('receiver_drained', () => {
      r.off('message', onMessage);
      resolve(out);
    });
    if (oneFlow) {
      r.drain = true;
      r.add_credit(credit);
      return;
    }
    r.add_credit(credit);
    r.drain = true;
    r.drain_credit();
  });
}

/** Resolves after `ms`; used only to let frames settle where no event can be awaited. */
export const tick = (ms = 20) => new Promise<void>((r) => setTimeout(r, ms));

/** A raw TCP connection for bad-input tests. */
export function rawSocket(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => resolve(s));
    s.on('error', reject);
  });
}

/** Everything the server writes until it closes the socket. */
export function readAll(s: net.Socket): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    s.on('data', (c) => chunks.push(c));
    s.on('close', () => resolve(Buffer.concat(chunks)));
    s.on('error', () => undefined);
  });
}
