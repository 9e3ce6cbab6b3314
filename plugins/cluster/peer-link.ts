/**
 * How messages cross between nodes (core/cluster.ts PeerLink):
 * - fan-out of every published message to the other nodes' queues and subscriptions: durable
 *   messages through the JetStream stream `JUNCTION_FANOUT` (R3; each node reads it with its own
 *   durable consumer `node-<id>` and acknowledges a message only once its own queues stored it,
 *   so a node that was down catches up when it returns); non-durable ones over the plain NATS
 *   subject `junction.fanout.transient` (at most once, like QoS 0 itself);
 * - appends to a stream partition led by another node: a request to `junction.append.<leader>`,
 *   answered once the leader stored the batch.
 * Every message carries the origin node in a header so a node skips its own.
 */
import { AckPolicy, DeliverPolicy, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { headers as natsHeaders, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import type { Logger } from '../../core/adapter.js';
import type { Broker } from '../../core/broker.js';
import { NotLeaderError, type PeerLink } from '../../core/cluster.js';
import type { Message } from '../../core/message.js';
import { decodeMessage, encodeMessage } from '../../core/message-codec.js';
import type { Interest } from './interest.js';
import { dedupeMsgId } from './names.js';
import { storeRefused } from './resilient.js';

const FANOUT_STREAM = 'JUNCTION_FANOUT';
const DURABLE_SUBJECT = 'junction.fanout.durable';
const TRANSIENT_SUBJECT = 'junction.fanout.transient';
const ORIGIN = 'Junction-Origin';
/** Message.publishId (URI-encoded): the receiving node skips a repeat routed to it already. */
const PUBLISH_ID = 'Junction-Publish-Id';
/** Requests to put a message into a queue only one node has (temporary reply queues). */
const TO_QUEUE_SUBJECT = 'junction.toqueue';
const TO_QUEUE_TIMEOUT_MS = 3000;
/** A node down longer than this misses durable messages published meanwhile (docs/cluster.md). */
const FANOUT_MAX_AGE_MS = 24 * 3600 * 1000;

export class NatsPeerLink implements PeerLink {
  private readonly subs: Subscription[] = [];
  private stopConsumer: (() => void) | null = null;

  constructor(
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly nodeId: number,
    private readonly replicas: number,
    private readonly interest: Interest,
    private readonly log: Logger,
  ) {}

  advertiseInterest(patterns: string[]): Promise<void> {
    return this.interest.advertise(patterns);
  }

  wanted(topic: string): boolean {
    return this.interest.wanted(topic);
  }

  async start(broker: Broker): Promise<void> {
    await this.interest.start();
    await this.interest.advertise(broker.localInterest());
    try {
      await this.jsm.streams.info(FANOUT_STREAM);
    } catch {
      await this.jsm.streams.add({ name: FANOUT_STREAM, subjects: [DURABLE_SUBJECT], num_replicas: this.replicas, max_age: FANOUT_MAX_AGE_MS * 1_000_000 })
        .catch(() => this.jsm.streams.info(FANOUT_STREAM));
    }
    const durable = `node-${this.nodeId}`;
    await this.jsm.consumers.add(FANOUT_STREAM, {
      durable_name: durable, ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.New, ack_wait: 30_000_000_000, max_ack_pending: 20_000,
    });
    const consumer = await this.js.consumers.get(FANOUT_STREAM, durable);
    const messages = await consumer.consume({ max_messages: 1000 });
    this.stopConsumer = () => void messages.close();
    void (async () => {
      for await (const m of messages) {
        if (Number(m.headers?.get(ORIGIN)) === this.nodeId) {
          m.ack();
          continue;
        }
        // Enqueued now, in arrival order; acknowledged once this node stored it.
        this.deliver(broker, m.data, m.headers?.get(PUBLISH_ID)).then(() => m.ack(), (err: Error) => {
          this.log.warn({ err: err.message }, 'cluster: a fanned-out message could not be stored here; redelivered later');
          m.nak(1000);
        });
      }
    })().catch((err) => this.log.warn({ err: (err as Error).message }, 'cluster: fan-out consumer ended'));

    this.subs.push(this.nc.subscribe(TRANSIENT_SUBJECT, {
      callback: (err, m) => {
        if (err || Number(m.headers?.get(ORIGIN)) === this.nodeId) return;
        this.deliver(broker, m.data, m.headers?.get(PUBLISH_ID)).catch((e: Error) => this.log.debug({ err: e.message }, 'cluster: transient message dropped'));
      },
    }));
    this.subs.push(this.nc.subscribe(TO_QUEUE_SUBJECT, {
      callback: (err, m) => {
        if (err) return;
        let queue: string;
        let message: Message;
        try {
          const named = readNamed(m.data);
          queue = named.name;
          message = decodeMessage(named.rest);
        } catch {
          return;
        }
        // Only the node that has the queue answers; the others stay silent.
        broker.sendToQueueFromPeer(queue, message)?.then(() => m.respond(''), (e: Error) => m.respond(`${e.name}: ${e.message}`));
      },
    }));
    this.subs.push(this.nc.subscribe(`junction.append.${this.nodeId}`, {
      callback: (err, m) => {
        if (err) return;
        let stream: string;
        let partition: number;
        let batch: Buffer;
        try {
          const named = readNamed(m.data);
          stream = named.name;
          partition = named.rest.readUInt32BE(0);
          batch = named.rest.subarray(4);
        } catch {
          m.respond('malformed append request');
          return;
        }
        broker.appendFromPeer(stream, partition, batch).then(() => m.respond(''), (e: Error) => m.respond(`${e.name}: ${e.message}`));
      },
    }));
  }

  fanout(message: Message): Promise<void> {
    const h = natsHeaders();
    h.set(ORIGIN, String(this.nodeId));
    if (message.publishId !== undefined) h.set(PUBLISH_ID, encodeURIComponent(message.publishId));
    const bytes = encodeMessage(message);
    if (!message.durable) {
      this.nc.publish(TRANSIENT_SUBJECT, bytes, { headers: h });
      return Promise.resolve();
    }
    return this.js.publish(DURABLE_SUBJECT, bytes, { headers: h, timeout: 10_000, msgID: dedupeMsgId(message.publishId, 'fanout') }).then(() => undefined, storeRefused);
  }

  async sendToQueue(queue: string, message: Message): Promise<boolean> {
    let reply;
    try {
      reply = await this.nc.request(TO_QUEUE_SUBJECT, named(queue, encodeMessage(message)), { timeout: TO_QUEUE_TIMEOUT_MS });
    } catch (err) {
      // No node has the queue: nobody answers (no responders, or the timeout when some are slow).
      if (/no responders|timeout/i.test((err as Error).message)) return false;
      throw err;
    }
    const text = reply.string();
    if (text !== '') throw new Error(text);
    return true;
  }

  async appendOnLeader(leader: number, stream: string, partition: number, batch: Buffer): Promise<void> {
    if (leader < 0) throw new NotLeaderError(`partition ${partition} of ${stream} has no leader yet`);
    const p = Buffer.allocUnsafe(4);
    p.writeUInt32BE(partition, 0);
    const reply = await this.nc.request(`junction.append.${leader}`, named(stream, p, batch), { timeout: 10_000 });
    const text = reply.string();
    if (text !== '') throw text.startsWith('NotLeaderError') ? new NotLeaderError(text) : new Error(`leader ${leader}: ${text}`);
  }

  async stop(): Promise<void> {
    this.stopConsumer?.();
    for (const s of this.subs) s.unsubscribe();
    await this.interest.stop();
  }

  private deliver(broker: Broker, data: Uint8Array, publishId: string | undefined): Promise<void> {
    const message = decodeMessage(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    if (publishId) message.publishId = decodeURIComponent(publishId);
    return broker.publishFromPeer(message);
  }
}

/** A request naming its queue or stream: `[u16 length][name, UTF-8][rest]`. */
function named(name: string, ...rest: Buffer[]): Buffer {
  const bytes = Buffer.from(name, 'utf8');
  const head = Buffer.allocUnsafe(2);
  head.writeUInt16BE(bytes.length, 0);
  return Buffer.concat([head, bytes, ...rest]);
}

function readNamed(data: Uint8Array): { name: string; rest: Buffer } {
  const b = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const len = b.readUInt16BE(0);
  if (b.length < 2 + len) throw new RangeError('truncated request');
  return { name: b.subarray(2, 2 + len).toString('utf8'), rest: Buffer.from(b.subarray(2 + len)) };
}
