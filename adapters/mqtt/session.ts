/**
 * One client's session while it is connected: its subscriptions, the core queues it consumes
 * (its own `mqtt.session.<client id>` and the shared-subscription queues it belongs to), the
 * outgoing in-flight window (packet identifiers, PUBACK / PUBREC / PUBREL / PUBCOMP) and the
 * incoming QoS 2 identifiers. Messages stay in the core queues; a persistent session's state is
 * written to broker.metadata through SessionStore. A new Session is built for every connection.
 */
import { topicMatches } from '../../core/names.js';
import type { Message } from '../../core/message.js';
import type { Queue } from '../../core/queue.js';
import type { Consumer } from '../../core/queue-consumer.js';
import type { Delivery, QueueOptions } from '../../core/queue-types.js';
import { encodeAck } from './codec.js';
import type { MqttContext } from './context.js';
import { ANN_FROM_RETAINED, ANN_RETAIN, messageQos } from './mqtt-message.js';
import type { SessionRecord, SubscriptionOptions } from './session-store.js';
import { parseFilter, sessionQueueName, sharedQueueName, type ParsedFilter } from './topics.js';

export interface Subscription {
  filter: string;
  parsed: ParsedFilter;
  opts: SubscriptionOptions;
  /** Core queue of a shared subscription. */
  sharedQueue?: string;
}

/** What a session needs from its network connection. */
export interface SessionLink {
  readonly id: string;
  readonly version: number;
  readonly socketBlocked: boolean;
  /** Writes a message as a PUBLISH; false when it was not sent (too large for the client). */
  sendMessage(m: Message, qos: number, retain: boolean, dup: boolean, packetId: number, subIds: number[] | undefined): boolean;
  write(buf: Buffer): void;
  /** The session's queue was deleted under it (administrative action). */
  sessionCancelled(): void;
}

/** An incoming QoS 2 PUBLISH whose PUBREL has not arrived. */
export interface InboundQos2 {
  /** Message.publishId of its publish: a resend not yet stored is published again under it. */
  publishId: string;
  /** Stored and PUBREC sent: a resend is acknowledged again, not published. */
  stored: boolean;
}

interface Outbound {
  qos: 1 | 2;
  state: 'pub' | 'rel';
  consumer: Consumer | null;
  tag: number;
}

interface Match {
  qos: number;
  rap: boolean;
  ids: number[] | undefined;
}

const MAX_MATCH_CACHE = 10_000;

export class Session {
  readonly queueName: string;
  readonly subs = new Map<string, Subscription>();
  /** Incoming QoS 2 exchanges whose PUBREL has not arrived, by packet id. */
  readonly inboundQos2 = new Map<number, InboundQos2>();
  private queue: Queue | undefined;
  private main: Consumer | undefined;
  /** Consumers of shared-subscription queues, by filter (made on first use). */
  private shared: Map<string, Consumer> | null = null;
  private readonly outbound = new Map<number, Outbound>();
  /** Packet ids of QoS 2 PUBLISHes sent on an earlier connection, by core sequence number. */
  private reserved: { bySeq: Map<number, number>; ids: Set<number> } | null = null;
  private nextId = 1;
  private cache: Map<string, Match> | null = null;
  private single: Match | null = null;
  private nonShared = 0;
  private hasNoLocal = false;
  private maxGranted = 0;
  private paused = false;
  private started = false;
  private detached = false;
  private readonly v5: boolean;
  private readonly onMain = (d: Delivery, c: Consumer): void => this.deliver(d, c, null);

  constructor(
    private readonly ctx: MqttContext,
    private readonly link: SessionLink,
    readonly clientId: string,
    /** Persistent: its queue is durable and its record is kept in the core. */
    readonly durable: boolean,
    /** Session expiry interval (s) in force. */
    public expiry: number,
    /** Outgoing QoS 1/2 window. */
    readonly window: number,
  ) {
    this.queueName = sessionQueueName(clientId);
    this.v5 = link.version === 5;
  }

  get inflightOut(): number {
    return this.outbound.size;
  }

  /** Loads a resumed session: subscriptions (re-binding what the core lacks) and in-flight state. */
  async restore(record: SessionRecord | undefined): Promise<void> {
    const broker = this.ctx.broker;
    this.queue = broker.getQueue(this.queueName);
    if (!record) return;
    const missingQueue = this.queue === undefined;
    for (const [filter, opts] of Object.entries(record.subs)) {
      const parsed = parseFilter(filter);
      if (typeof parsed === 'string') continue;
      const sub: Subscription = { filter, parsed, opts };
      if (parsed.group !== undefined) {
        sub.sharedQueue = sharedQueueName(parsed.group, parsed.pattern);
        await this.ensureShared(sub);
      } else {
        await this.ensureQueue();
        if (missingQueue) await broker.bindQueue(this.queueName, parsed.pattern, opts.nl ? { noLocalOwner: this.clientId } : {});
      }
      this.subs.set(filter, sub);
    }
    if (this.durable) {
      const inflight = this.ctx.store.inflight(this.clientId);
      // In a cluster the record is written before the publish, which may not have been stored
      // (the node died meanwhile): a resend is published again under the same id (stored once).
      const clustered = this.ctx.broker.cluster.clustered;
      for (const [id, publishId] of inflight.inbound) this.inboundQos2.set(id, { publishId, stored: !clustered || publishId === '' });
      for (const id of inflight.pubrel) this.outbound.set(id, { qos: 2, state: 'rel', consumer: null, tag: 0 });
      if (inflight.outbound.size > 0) {
        // In a cluster the queue's messages may be on its owner node: every reservation is kept.
        const present = new Set((this.queue?.allEntries() ?? []).map((e) => e.seq));
        const keepAll = this.ctx.broker.cluster.clustered;
        for (const [id, seq] of inflight.outbound) {
          if ((keepAll || present.has(seq)) && !this.outbound.has(id)) {
            this.reserved ??= { bySeq: new Map(), ids: new Set() };
            this.reserved.bySeq.set(seq, id);
            this.reserved.ids.add(id);
          } else {
            ignore(this.ctx.store.deleteInflight(this.clientId, 'o', id), this.ctx);
          }
        }
      }
    }
    this.recompute();
  }

  /** After CONNACK: resend PUBRELs, start consuming. */
  start(): void {
    this.started = true;
    for (const [id, o] of this.outbound) if (o.state === 'rel') this.link.write(encodeAck('pubrel', id, this.v5));
    this.updateFlow();
    this.ensureMainConsumer();
    for (const sub of this.subs.values()) if (sub.sharedQueue) this.startShared(sub);
  }

  /** The connection ended: consumers close (unacknowledged messages go back to their queues). */
  detach(): void {
    if (this.detached) return;
    this.detached = true;
    const main = this.main;
    this.main = undefined;
    main?.close();
    if (this.shared) for (const c of this.shared.values()) c.close();
    this.shared = null;
    this.outbound.clear();
  }

  /** Shared-subscription queues this session belongs to. */
  sharedQueues(): string[] {
    const out: string[] = [];
    for (const s of this.subs.values()) if (s.sharedQueue) out.push(s.sharedQueue);
    return out;
  }

  record(disconnectedAt: number | null): SessionRecord {
    const subs: Record<string, SubscriptionOptions> = {};
    for (const [f, s] of this.subs) subs[f] = s.opts;
    const cluster = this.ctx.broker.cluster;
    return { v: 1, expiry: this.expiry, disconnectedAt, protocol: this.link.version, subs, ...(cluster.clustered ? { node: cluster.nodeId } : {}) };
  }

  persist(): Promise<void> {
    // A SUBSCRIBE finishing after the connection ended must not mark the session connected again.
    return this.durable ? this.ctx.store.put(this.clientId, this.record(this.detached ? Date.now() : null)) : Promise.resolve();
  }

  // ---- subscriptions -------------------------------------------------------------------------

  /** Adds or replaces subscriptions. Returns the retained messages to send once SUBACK is out. */
  async subscribe(entries: Array<{ parsed: ParsedFilter; opts: SubscriptionOptions }>): Promise<Message[]> {
    const broker = this.ctx.broker;
    const retained: Message[] = [];
    try {
      for (const { parsed, opts } of entries) {
        const existing = this.subs.get(parsed.filter);
        const sub: Subscription = { filter: parsed.filter, parsed, opts };
        if (parsed.group !== undefined) {
          sub.sharedQueue = sharedQueueName(parsed.group, parsed.pattern);
          await this.ensureShared(sub);
          this.subs.set(sub.filter, sub);
          if (this.started && !this.detached) this.startShared(sub);
        } else {
          await this.ensureQueue();
          if (!existing || !!existing.opts.nl !== !!opts.nl) {
            await broker.bindQueue(this.queueName, parsed.pattern, opts.nl ? { noLocalOwner: this.clientId } : {});
          }
          this.subs.set(sub.filter, sub);
          const rh = opts.rh ?? 0;
          if (rh === 0 || (rh === 1 && !existing)) retained.push(...broker.retained.match(parsed.pattern));
        }
      }
    } finally {
      this.recompute();
      if (this.started && !this.detached) this.ensureMainConsumer();
    }
    await this.persist();
    return retained;
  }

  /** Queues retained messages for delivery (they go through the session queue, with RETAIN set). */
  sendRetained(messages: Message[]): void {
    for (const m of messages) {
      const copy: Message = { ...m, annotations: { ...m.annotations, [ANN_FROM_RETAINED]: true } };
      ignore(this.ctx.broker.sendToQueue(this.queueName, copy), this.ctx);
    }
  }

  /** Removes subscriptions; returns a reason code per filter (0 or 0x11 no subscription existed). */
  async unsubscribe(filters: string[]): Promise<number[]> {
    const codes: number[] = [];
    try {
      for (const f of filters) {
        const sub = this.subs.get(f);
        if (!sub) {
          codes.push(0x11);
          continue;
        }
        this.subs.delete(f);
        if (sub.sharedQueue) {
          const c = this.shared?.get(f);
          this.shared?.delete(f);
          c?.close();
          await this.ctx.sessions.removeShared(sub.sharedQueue, this.clientId);
        } else {
          await this.ctx.broker.unbindQueue(this.queueName, sub.parsed.pattern);
        }
        codes.push(0);
      }
    } finally {
      this.recompute();
    }
    await this.persist();
    return codes;
  }

  // ---- delivery ------------------------------------------------------------------------------

  private queueOptions(durable: boolean): Partial<QueueOptions> {
    const s = this.ctx.settings;
    return {
      durable,
      autoDelete: false,
      maxLength: s.maxQueuedMessages,
      maxBytes: s.maxQueuedBytes,
      overflow: 'drop-head',
      messageTtl: 0,
      maxDeliveries: 0,
      deadLetterQueue: '',
      labels: { protocol: 'mqtt', clientId: this.clientId },
    };
  }

  private async ensureQueue(): Promise<void> {
    if (this.queue && !this.queue.deleted) return;
    const broker = this.ctx.broker;
    const existing = broker.getQueue(this.queueName);
    if (existing) {
      this.queue = existing;
      return;
    }
    const opts = this.queueOptions(this.durable);
    if (!this.durable) {
      opts.autoDelete = true;
      opts.exclusiveOwner = this.owner();
    }
    this.queue = await broker.declareQueue(this.queueName, opts);
  }

  private owner(): string {
    return `mqtt:${this.link.id}`;
  }

  private async ensureShared(sub: Subscription): Promise<void> {
    const broker = this.ctx.broker;
    const name = sub.sharedQueue!;
    this.ctx.sessions.addShared(name, this.clientId);
    if (broker.getQueue(name)) return;
    await broker.declareQueue(name, this.queueOptions(this.durable));
    await broker.bindQueue(name, sub.parsed.pattern);
  }

  private ensureMainConsumer(): void {
    const q = this.queue;
    if (!q || q.deleted) return;
    const autoAck = this.nonShared > 0 && this.maxGranted === 0;
    const old = this.main;
    if (old && (!old.options.autoAck || autoAck)) return;
    const c = q.consume({ prefetch: this.window, autoAck, creditMode: false, owner: this.owner() }, this.onMain);
    c.onCancel = () => {
      if (this.main === c && !this.detached) this.link.sessionCancelled();
    };
    if (this.paused) c.pause();
    this.main = c;
    old?.close();
  }

  private startShared(sub: Subscription): void {
    const q = this.ctx.broker.getQueue(sub.sharedQueue!);
    if (!q) return;
    const autoAck = sub.opts.qos === 0;
    const old = this.shared?.get(sub.filter);
    if (old && (!old.options.autoAck || autoAck)) return;
    const filter = sub.filter;
    const c = q.consume({ prefetch: this.window, autoAck, creditMode: false }, (d, cc) => this.deliver(d, cc, this.subs.get(filter) ?? sub));
    c.onCancel = () => {
      if (this.shared?.get(filter) === c) this.shared.delete(filter);
    };
    if (this.paused) c.pause();
    (this.shared ??= new Map()).set(filter, c);
    old?.close();
  }

  private recompute(): void {
    this.cache = null;
    let n = 0;
    let maxGranted = 0;
    let nl = false;
    let last: Subscription | undefined;
    for (const s of this.subs.values()) {
      if (s.sharedQueue) continue;
      n++;
      last = s;
      if (s.opts.qos > maxGranted) maxGranted = s.opts.qos;
      if (s.opts.nl) nl = true;
    }
    this.nonShared = n;
    this.maxGranted = maxGranted;
    this.hasNoLocal = nl;
    this.single = n === 1 ? { qos: last!.opts.qos, rap: !!last!.opts.rap, ids: last!.opts.id ? [last!.opts.id] : undefined } : null;
  }

  /** Granted QoS, retain-as-published and subscription ids of the subscriptions matching a message. */
  private match(m: Message): Match {
    if (this.single) return this.single;
    const topic = m.topic;
    const local = this.hasNoLocal && m.origin === this.clientId;
    if (!local) {
      const hit = this.cache?.get(topic);
      if (hit) return hit;
    }
    let qos = -1;
    let rap = false;
    let ids: number[] | undefined;
    for (const s of this.subs.values()) {
      if (s.sharedQueue || (local && s.opts.nl) || !topicMatches(s.parsed.pattern, topic)) continue;
      if (s.opts.qos > qos) qos = s.opts.qos;
      if (s.opts.rap) rap = true;
      if (s.opts.id) (ids ??= []).push(s.opts.id);
    }
    const r: Match = qos < 0 ? { qos: this.maxGranted, rap: false, ids: undefined } : { qos, rap, ids };
    if (!local) {
      if (!this.cache || this.cache.size >= MAX_MATCH_CACHE) this.cache = new Map();
      this.cache.set(topic, r);
    }
    return r;
  }

  private deliver(d: Delivery, c: Consumer, sub: Subscription | null): void {
    const m = d.message;
    let granted: number;
    let rap: boolean;
    let ids: number[] | undefined;
    if (sub) {
      granted = sub.opts.qos;
      rap = !!sub.opts.rap;
      ids = sub.opts.id ? [sub.opts.id] : undefined;
    } else {
      const mt = this.match(m);
      granted = mt.qos;
      rap = mt.rap;
      ids = mt.ids;
    }
    const published = messageQos(m);
    const qos = published < granted ? published : granted;
    const ann = m.annotations;
    const retain = ann !== undefined && (ann[ANN_FROM_RETAINED] === true || (rap && ann[ANN_RETAIN] === true));
    if (qos === 0) {
      this.link.sendMessage(m, 0, retain, false, 0, ids);
      if (!c.options.autoAck) ignore(c.ack(d.tag), this.ctx);
      return;
    }
    const reservations = this.reserved?.ids.size ?? 0;
    const id = this.allocate(d);
    // A PUBLISH resent after a reconnect or restart carries DUP (a restart forgets "redelivered",
    // but a packet id reserved for this message means it was sent before).
    const dup = d.redelivered || (this.reserved?.ids.size ?? 0) < reservations;
    if (id === 0) {
      // Every packet identifier is in use: give the message back and wait for acknowledgements.
      ignore(c.nack(d.tag, { requeue: true, failed: false }), this.ctx);
      this.forcePause();
      return;
    }
    this.outbound.set(id, { qos: qos as 1 | 2, state: 'pub', consumer: c, tag: d.tag });
    if (!this.link.sendMessage(m, qos, retain, dup, id, ids)) {
      this.outbound.delete(id);
      ignore(c.ack(d.tag), this.ctx);
      return;
    }
    if (qos === 2 && this.durable) ignore(this.ctx.store.putInflight(this.clientId, 'o', id, d.seq), this.ctx);
    if (this.outbound.size >= this.window) this.updateFlow();
  }

  private allocate(d: Delivery): number {
    const reserved = this.reserved;
    if (reserved) {
      const id = reserved.bySeq.get(d.seq);
      if (id !== undefined) {
        reserved.bySeq.delete(d.seq);
        reserved.ids.delete(id);
        if (reserved.ids.size === 0) this.reserved = null;
        if (!this.outbound.has(id)) return id;
      }
    }
    const ids = this.reserved?.ids;
    if (this.outbound.size + (ids?.size ?? 0) >= 65535) return 0;
    for (;;) {
      const id = this.nextId;
      this.nextId = id === 65535 ? 1 : id + 1;
      if (!this.outbound.has(id) && !ids?.has(id)) return id;
    }
  }

  /** PUBACK from the client. False when the packet id is unknown. */
  onPuback(id: number): boolean {
    const o = this.outbound.get(id);
    if (!o || o.qos !== 1) return false;
    this.outbound.delete(id);
    if (o.consumer) ignore(o.consumer.ack(o.tag), this.ctx);
    if (this.paused) this.updateFlow();
    return true;
  }

  /** PUBREC from the client: the message is the client's; PUBREL follows once that is stored. */
  onPubrec(id: number, reasonCode: number): boolean {
    const o = this.outbound.get(id);
    if (!o || o.qos !== 2) return false;
    if (o.state === 'rel') {
      this.link.write(encodeAck('pubrel', id, this.v5));
      return true;
    }
    const consumer = o.consumer;
    const acked = consumer ? consumer.ack(o.tag) : Promise.resolve();
    if (reasonCode >= 0x80) {
      this.outbound.delete(id);
      if (this.durable) ignore(this.ctx.store.deleteInflight(this.clientId, 'o', id), this.ctx);
      ignore(acked, this.ctx);
      if (this.paused) this.updateFlow();
      return true;
    }
    o.state = 'rel';
    o.consumer = null;
    if (!this.durable) {
      ignore(acked, this.ctx);
      this.link.write(encodeAck('pubrel', id, this.v5));
      return true;
    }
    Promise.all([acked, this.ctx.store.released(this.clientId, id)]).then(() => {
      if (!this.detached && this.outbound.get(id) === o) this.link.write(encodeAck('pubrel', id, this.v5));
    }, (err) => this.ctx.storeError(err, { clientId: this.clientId }, 'mqtt: storing QoS 2 state failed'));
    return true;
  }

  /** PUBCOMP from the client: the QoS 2 exchange is over. */
  onPubcomp(id: number): boolean {
    const o = this.outbound.get(id);
    if (!o || o.state !== 'rel') return false;
    this.outbound.delete(id);
    if (this.durable) ignore(this.ctx.store.deleteInflight(this.clientId, 'r', id), this.ctx);
    if (this.paused) this.updateFlow();
    return true;
  }

  /** Socket back-pressure or the window changed: pause or resume every consumer. */
  updateFlow(): void {
    const pause = this.link.socketBlocked || this.outbound.size >= this.window;
    if (pause === this.paused) return;
    this.paused = pause;
    if (pause) {
      this.main?.pause();
      if (this.shared) for (const c of this.shared.values()) c.pause();
      return;
    }
    this.main?.resume();
    for (const c of this.shared ? [...this.shared.values()] : []) {
      if (this.paused) break;
      c.resume();
    }
  }

  private forcePause(): void {
    this.paused = true;
    this.main?.pause();
    if (this.shared) for (const c of this.shared.values()) c.pause();
  }
}

/** Attaches a rejection handler: a failed background store write is logged, never unhandled. */
export function ignore(p: Promise<unknown>, ctx: MqttContext): void {
  p.catch((err: unknown) => ctx.storeError(err, {}, 'mqtt: background operation failed'));
}
