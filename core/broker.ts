/**
 * The protocol-neutral broker: owns every queue, stream, binding, retained message and stored
 * byte. Adapters translate their frames into these calls and back; nothing here knows a protocol.
 *
 * Publishing: `publish()` routes by topic to bound queues and streams; `sendToQueue()` addresses
 * one queue. Both return a promise that resolves once the message is stored as its durability
 * asks AND every target queue has room (policy 'block'), so an adapter that bounds its in-flight
 * publishes per connection slows its publishers end to end.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from './adapter.js';
import { type ClusterView, type SharedQueues, SingleNode } from './cluster.js';
import { GroupOffsets } from './group-offsets.js';
import { decodeMessage, encodeMessage, summarizeMessage } from './message-codec.js';
import { Message, messageSize } from './message.js';
import { MetadataStore } from './metadata.js';
import { checkTopicName, InvalidNameError } from './names.js';
import { OutboundMemory } from './outbound-memory.js';
import { Queue, QueueHost, RemovalReason } from './queue.js';
import { QueueMemory } from './queue-memory.js';
import { DEFAULT_QUEUE_OPTIONS, QueueEntry, QueueFullError, QueueNotFoundError, QueueOptions, removeInBackground } from './queue-types.js';
import { RetainedMessages } from './retained.js';
import { Binding, TopicRouter } from './router.js';
import type { JournalEntry, Store } from './store.js';
import { AppendResult } from './stream/partition.js';
import { decodeRecordsAsync, recordToMessage } from './stream/record-codec.js';
import type { Stream, StreamConfig } from './stream/stream.js';
import { DEFAULT_STREAM_CONFIG, DEFAULT_STREAM_LIMITS, StreamRegistry, type StreamLimits } from './stream/stream-registry.js';
import { RecentPublishes } from './recent-publishes.js';
import { Transaction } from './transaction.js';

export interface BrokerOptions {
  /** Defaults for every declared queue (a declare may override). */
  queueDefaults: Partial<QueueOptions>;
  /** A queue's dead-letter queue is its name plus this suffix unless the declare names one. */
  deadLetterSuffix: string;
  streamDefaults: Partial<StreamConfig>;
  /** How often expired messages are swept and stream retention applied. */
  housekeepingIntervalMs: number;
  /** The other nodes, when this broker is one node of a cluster (default: a cluster of one). */
  cluster: ClusterView;
  /** Broker-wide counts (0 = no limit): see QueueLimitError and StreamLimitError. */
  limits: BrokerLimits;
  /**
   * Bytes of durable queued message bodies kept in memory; past it, new ones stay on disk only
   * and are read back as consumers catch up (core/queue-memory.ts). Needs a store with readMessages.
   */
  queueMemoryBytes: number;
  /**
   * Bytes of queued bodies that cannot page kept in memory across all queues; past it publishers
   * to the largest queues wait (core/outbound-memory.ts). 0 = no bound.
   */
  outboundMemoryBytes: number;
  /** Where the core logs what operators must know (the outbound memory bound). */
  log?: Logger;
}

export const DEFAULT_QUEUE_MEMORY_BYTES = 32 * 1024 * 1024;
export const DEFAULT_OUTBOUND_MEMORY_BYTES = 256 * 1024 * 1024;

export interface BrokerLimits extends StreamLimits {
  /** Queues; dead-letter queues count, but one is always created when a message is dead-lettered. */
  maxQueues: number;
  /** Queues declared with labels.owner naming one user (the durable queues its clients created). */
  maxQueuesPerUser: number;
}

export const DEFAULT_BROKER_LIMITS: BrokerLimits = { ...DEFAULT_STREAM_LIMITS, maxQueues: 100000, maxQueuesPerUser: 0 };

/**
 * A declare past limits.maxQueues. It keeps QueueFullError's name so adapters that map a full queue
 * to their resource-limit error (AMQP resource-limit, STOMP ERROR, MQTT quota, admin 409) map this too.
 */
export class QueueLimitError extends QueueFullError {}

type Target = Queue | Stream;
type BindOptions = Pick<Binding<Target>, 'noLocalOwner' | 'args'>;

const NS_QUEUE = 'queue';
const NS_BINDING = 'binding';
const NS_COUNTER = 'counter';
/** Definitions and bindings of the queues every node of a cluster shares (core/cluster.ts SharedQueues). */
export const NS_SHARED_QUEUE = 'shared-queue';
export const NS_SHARED_BINDING = 'shared-binding';
const RESOLVED = Promise.resolve();

export class Broker extends EventEmitter {
  readonly options: BrokerOptions;
  private readonly router = new TopicRouter<Target>();
  private readonly queueMap = new Map<string, Queue>();
  /** Queues per owner (labels.owner), for limits.maxQueuesPerUser. */
  private readonly ownedQueues = new Map<string, number>();
  private metadataStore!: MetadataStore;
  private streamRegistry!: StreamRegistry;
  private retainedMessages!: RetainedMessages;
  private groupOffsets!: GroupOffsets;
  private nextSeq = 1;
  private nextQueueId = 1;
  private housekeeping?: NodeJS.Timeout;
  /** While a transaction commits, journal entries are collected here and written as one group. */
  private collecting: JournalEntry[] | null = null;
  private readonly host: QueueHost;
  /** The memory budget of queued bodies: what pages out and what is read back. */
  readonly queueMemory: QueueMemory;
  /** Queued bodies that cannot page, across all queues: the broker-wide bound for slow consumers. */
  readonly outboundMemory: OutboundMemory;
  /** Delivery records waiting for the next tick's journal group (journalDelivery). */
  private deliveries: JournalEntry[] = [];
  /** Dead-letter moves waiting for a paged body, and the last of them (later moves queue behind). */
  private movesWaiting = 0;
  private deadLetterTail: Promise<void> = RESOLVED;
  /** Queues every node of the cluster shares (empty on a single node). */
  private readonly sharedSet = new Set<Queue>();
  private readonly recentPublishes = new RecentPublishes();
  /** The interest advertisement being stored, and the one that follows it (advertiseInterest). */
  private interestNow: Promise<void> | null = null;
  private interestNext: Promise<void> | null = null;
  unroutable = 0;
  /**
   * Messages and payload bytes since start: in = published, sent to a queue or produced (Kafka
   * batches by record count); out = handed to queue consumers. The broker's own `$` topics are not
   * counted as received.
   */
  readonly traffic = { messagesIn: 0, bytesIn: 0, messagesOut: 0, bytesOut: 0 };
  /** How the store rebuilt its journal index at open (docs/storage.md): from its snapshot, or by a full scan. */
  journalIndex: 'snapshot' | 'scan' | undefined;

  constructor(readonly store: Store, options: Partial<BrokerOptions> = {}) {
    super();
    this.options = {
      queueDefaults: options.queueDefaults ?? {},
      deadLetterSuffix: options.deadLetterSuffix ?? '.dlq',
      streamDefaults: options.streamDefaults ?? {},
      housekeepingIntervalMs: options.housekeepingIntervalMs ?? 1000,
      cluster: options.cluster ?? new SingleNode(),
      limits: { ...DEFAULT_BROKER_LIMITS, ...options.limits },
      queueMemoryBytes: options.queueMemoryBytes ?? DEFAULT_QUEUE_MEMORY_BYTES,
      outboundMemoryBytes: options.outboundMemoryBytes ?? DEFAULT_OUTBOUND_MEMORY_BYTES,
      log: options.log,
    };
    this.outboundMemory = new OutboundMemory(this.options.outboundMemoryBytes, options.log);
    this.queueMemory = new QueueMemory(this.options.queueMemoryBytes, store.readMessages ? (seqs) => store.readMessages!(seqs) : undefined);
    const memory = this.queueMemory;
    this.host = {
      removed: (q, e, reason) => this.entryRemoved(q, e, reason),
      deadLetter: (q, e, reason) => this.deadLetter(q, e, reason),
      released: (e) => this.release(e),
      unused: (q) => void this.deleteQueue(q.name),
      consumersChanged: (q) => this.sharedOf(q)?.consumersChanged(q),
      delivered: (e) => {
        this.traffic.messagesOut++;
        this.traffic.bytesOut += e.message?.payload.length ?? 0;
      },
      awaitingAck: (q, e) => {
        if (!this.sharedSet.has(q)) this.journalDelivery({ kind: 'deliver', seq: e.seq, queue: q.id, count: e.deliveryCount + 1 });
      },
      load: memory.enabled ? (entries) => memory.load(entries) : undefined,
      readAheadLimit: () => memory.readAheadLimit(),
      read: memory.enabled ? (entries) => memory.readCopies(entries) : undefined,
      loadFailed: (q, err) => this.emit('warning', new Error(`queue ${q.name}: reading paged messages back failed (retrying): ${err.message}`, { cause: err })),
    };
  }

  get metadata(): MetadataStore { return this.metadataStore; }
  get retained(): RetainedMessages { return this.retainedMessages; }
  get offsets(): GroupOffsets { return this.groupOffsets; }
  get cluster(): ClusterView { return this.options.cluster; }

  /** Recovers definitions and unacknowledged messages from the store. */
  async open(): Promise<void> {
    // A store that reads bodies back recovers queued messages without them: memory grows with the
    // number of messages, not their bytes, and bodies are read as consumers need them.
    const recovery = await this.store.open(this.queueMemory.enabled ? { summarize: summarizeMessage } : undefined);
    this.journalIndex = recovery.journalIndex;
    this.metadataStore = new MetadataStore(this.store, recovery.metadata);
    this.retainedMessages = new RetainedMessages(this.metadataStore);
    this.groupOffsets = new GroupOffsets(this.metadataStore);
    this.streamRegistry = new StreamRegistry(this.store, this.metadataStore, { ...DEFAULT_STREAM_CONFIG, ...this.options.streamDefaults }, this.options.limits);
    for (const stream of await this.streamRegistry.recover()) this.bindStreamPatterns(stream);
    this.streamRegistry.followRemoteChanges({
      added: (stream) => this.bindStreamPatterns(stream),
      changed: (stream) => {
        this.router.unbindAll(`s:${stream.name}`);
        this.bindStreamPatterns(stream);
      },
      removed: (name) => this.router.unbindAll(`s:${name}`),
    }, (err) => this.emit('warning', err));
    const byId = new Map<number, Queue>();
    for (const [name, bytes] of this.metadataStore.entries(NS_QUEUE)) {
      const def = JSON.parse(bytes.toString('utf8')) as { id: number; options: QueueOptions };
      const q = new Queue(name, def.id, def.options, this.host);
      this.putQueue(name, q);
      byId.set(def.id, q);
      this.nextQueueId = Math.max(this.nextQueueId, def.id + 1);
    }
    for (const [key, bytes] of this.metadataStore.entries(NS_BINDING)) {
      const [queueName, pattern] = key.split('\u0000');
      const q = this.queueMap.get(queueName);
      if (q) this.router.bind(`q:${queueName}`, { pattern, target: q, ...(JSON.parse(bytes.toString('utf8')) as BindOptions) });
    }
    this.openSharedQueues();
    for (const rec of recovery.messages) {
      this.nextSeq = Math.max(this.nextSeq, rec.seq + 1);
      const message = decodeMessage(rec.message);
      rec.queues.forEach((id, i) => {
        const q = byId.get(id);
        const entry: QueueEntry = { seq: rec.seq, message, deliveryCount: 0, redelivered: false, persisted: true, size: messageSize(message) };
        if (q) this.requeueRecovered(q, entry, rec.deliveryCounts?.[i] ?? 0);
      });
    }
    // Neighbouring messages are nearly always in the same queue: its lookup is kept.
    let lastId = -1;
    let lastQueue: Queue | undefined;
    const recoverPaged = (seq: number, id: number, size: number, priority: number | undefined, expiry: number | undefined, count: number): void => {
      if (seq >= this.nextSeq) this.nextSeq = seq + 1;
      if (id !== lastId) {
        lastId = id;
        lastQueue = byId.get(id);
      }
      const q = lastQueue;
      if (!q) return;
      this.queueMemory.addPaged();
      // Never delivered: packed straight into the queue's paged runs, no object per message.
      if (count === 0) return q.enqueuePaged(seq, size, priority, expiry);
      const entry: QueueEntry = { seq, message: undefined, deliveryCount: 0, redelivered: false, persisted: true, size, priority, expiry, pageable: true };
      this.requeueRecovered(q, entry, count);
    };
    if (recovery.eachPaged) {
      // Count first (a sequential pass over the packed index), so that each queue's runs are made
      // at their size once instead of doubling per queue: thousands of session queues recover faster.
      const counts = new Map<number, number>();
      let runId = -1;
      let run = 0;
      const counted = (): void => {
        if (run > 0) counts.set(runId, (counts.get(runId) ?? 0) + run);
      };
      recovery.eachPaged((_seq, id) => {
        if (id !== runId) {
          counted();
          runId = id;
          run = 0;
        }
        run++;
      });
      counted();
      for (const [id, n] of counts) byId.get(id)?.expectPaged(n);
      recovery.eachPaged(recoverPaged);
      for (const id of counts.keys()) byId.get(id)?.recoveredPaged();
    } else {
      for (const rec of recovery.paged ?? []) {
        const { size, priority, expiry } = rec.summary;
        rec.queues.forEach((id, i) => recoverPaged(rec.seq, id, size, priority, expiry, rec.deliveryCounts?.[i] ?? 0));
      }
    }
    this.housekeeping = setInterval(() => void this.runHousekeeping(), this.options.housekeepingIntervalMs);
    this.housekeeping.unref();
  }

  /**
   * Queues a recovered message with the delivery count its last journaled delivery left (a
   * delivery unacknowledged at a crash or shutdown counts as failed): one that reached
   * maxDeliveries goes to the dead-letter queue instead of being delivered once more.
   */
  private requeueRecovered(q: Queue, entry: QueueEntry, count: number): void {
    entry.deliveryCount = count;
    entry.redelivered = count > 0;
    const limit = q.options.maxDeliveries;
    if (limit > 0 && count >= limit) {
      q.stats.published++;
      removeInBackground(q.deadLetterEntry(entry, 'delivery-limit'));
      return;
    }
    q.enqueue(entry, true);
  }

  async close(): Promise<void> {
    clearInterval(this.housekeeping);
    // Deliveries of the last tick are recorded too: unacknowledged at the stop, they count as failed.
    await this.flushDeliveries().catch(() => undefined);
    for (const q of this.queueMap.values()) q.closeAll();
    await this.streamRegistry?.close();
    await this.store.flush();
    await this.store.close();
    this.emit('closed');
  }

  // ---- queues -------------------------------------------------------------------------------

  /** Declares a queue (idempotent: an existing queue is returned as it is). */
  async declareQueue(name: string, options: Partial<QueueOptions> = {}): Promise<Queue> {
    const existing = this.queueMap.get(name);
    if (existing) return existing;
    const max = this.options.limits.maxQueues;
    if (max > 0 && this.queueMap.size >= max) throw new QueueLimitError(`queue ${name} not created: the broker has its maximum of ${max} queues (limits.maxQueues)`);
    const owner = options.labels?.owner;
    const perUser = this.options.limits.maxQueuesPerUser;
    if (owner !== undefined && perUser > 0 && this.queuesOwnedBy(owner) >= perUser) {
      throw new QueueLimitError(`queue ${name} not created: user ${owner} has its maximum of ${perUser} queues (limits.maxQueuesPerUser)`);
    }
    return this.addQueue(name, options);
  }

  private async addQueue(name: string, options: Partial<QueueOptions>): Promise<Queue> {
    if (name.length === 0 || name.length > 1024 || name.includes('\u0000')) throw new RangeError(`invalid queue name "${name}"`);
    const merged: QueueOptions = { ...DEFAULT_QUEUE_OPTIONS, ...this.options.queueDefaults, ...options };
    const isDlq = name.endsWith(this.options.deadLetterSuffix);
    if (options.deadLetterQueue === undefined) {
      merged.deadLetterQueue = merged.autoDelete || merged.exclusiveOwner !== undefined || isDlq ? '' : name + this.options.deadLetterSuffix;
    }
    if (this.cluster.sharedQueues?.shares(merged)) {
      const q = this.addSharedQueue(name, merged);
      await this.metadataStore.putJson(NS_SHARED_QUEUE, name, merged);
      return q;
    }
    const id = merged.durable ? this.nextQueueId++ : 0;
    const q = new Queue(name, id, merged, this.host);
    this.putQueue(name, q);
    if (merged.durable) await this.metadataStore.putJson(NS_QUEUE, name, { id, options: merged });
    return q;
  }

  getQueue(name: string): Queue | undefined {
    return this.queueMap.get(name);
  }

  /** Queues whose definition names `owner` (labels.owner: the user whose client created them; limits.maxQueuesPerUser). */
  queuesOwnedBy(owner: string): number {
    return this.ownedQueues.get(owner) ?? 0;
  }

  private putQueue(name: string, q: Queue): void {
    this.queueMap.set(name, q);
    const owner = q.options.labels?.owner;
    if (owner !== undefined) this.ownedQueues.set(owner, (this.ownedQueues.get(owner) ?? 0) + 1);
  }

  private dropQueue(name: string): void {
    const owner = this.queueMap.get(name)?.options.labels?.owner;
    this.queueMap.delete(name);
    if (owner === undefined) return;
    const n = (this.ownedQueues.get(owner) ?? 1) - 1;
    if (n <= 0) this.ownedQueues.delete(owner);
    else this.ownedQueues.set(owner, n);
  }

  queues(): IterableIterator<Queue> {
    return this.queueMap.values();
  }

  async deleteQueue(name: string): Promise<boolean> {
    const q = this.queueMap.get(name);
    if (!q) return false;
    this.dropQueue(name);
    const entries = q.allEntries();
    q.closeAll();
    this.router.unbindAll(`q:${name}`);
    const shared = this.sharedOf(q);
    if (!shared) void this.advertiseInterest();
    if (shared) {
      this.sharedSet.delete(q);
      const bindingKeys = [...this.metadataStore.entries(NS_SHARED_BINDING).keys()].filter((k) => k.startsWith(`${name}\u0000`));
      await this.metadataStore.batch([{ ns: NS_SHARED_QUEUE, key: name, value: undefined }, ...bindingKeys.map((key) => ({ ns: NS_SHARED_BINDING, key, value: undefined }))]);
      await shared.deleted(q);
    } else if (q.options.durable) {
      const bindingKeys = [...this.metadataStore.entries(NS_BINDING).keys()].filter((k) => k.startsWith(`${name}\u0000`));
      await this.metadataStore.batch([NS_QUEUE, ...bindingKeys.map(() => NS_BINDING)].map((ns, i) => ({ ns, key: i === 0 ? name : bindingKeys[i - 1], value: undefined })));
      const acks: JournalEntry[] = entries.filter((e) => e.persisted).map((e) => ({ kind: 'ack', seq: e.seq, queue: q.id }));
      if (acks.length) await this.store.journal(acks);
    }
    for (const e of entries) this.release(e);
    return true;
  }

  /**
   * Binds a queue to a topic pattern; persisted with a durable queue. In a cluster, a queue of this
   * node's own is bound once the other nodes know to send it what matches.
   */
  async bindQueue(queueName: string, pattern: string, options: BindOptions = {}): Promise<void> {
    const q = this.requireQueue(queueName);
    this.router.bind(`q:${queueName}`, { pattern, target: q, ...options });
    const shared = this.sharedSet.has(q);
    if (q.options.durable) await this.metadataStore.putJson(shared ? NS_SHARED_BINDING : NS_BINDING, `${queueName}\u0000${pattern}`, options);
    if (!shared) await this.advertiseInterest();
  }

  async unbindQueue(queueName: string, pattern: string): Promise<void> {
    this.router.unbind(`q:${queueName}`, pattern);
    await this.metadataStore.delete(NS_BINDING, `${queueName}\u0000${pattern}`);
    await this.metadataStore.delete(NS_SHARED_BINDING, `${queueName}\u0000${pattern}`);
    void this.advertiseInterest();
  }

  /** Topic patterns this node's own queues (not shared ones) are bound to. */
  localInterest(): string[] {
    return this.router.patterns((t) => t instanceof Queue && !this.sharedSet.has(t));
  }

  /**
   * Tells the other nodes of a cluster what this node's own queues want. Changes made while one
   * advertisement is being stored are folded into the next; each caller's change is in the one it awaits.
   */
  advertiseInterest(): Promise<void> {
    const peers = this.cluster.peers;
    if (!peers) return RESOLVED;
    if (this.interestNext) return this.interestNext;
    if (!this.interestNow) {
      this.interestNow = peers.advertiseInterest(this.localInterest()).finally(() => { this.interestNow = null; });
      return this.interestNow;
    }
    this.interestNext = this.interestNow.catch(() => undefined).then(() => {
      this.interestNext = null;
      return this.advertiseInterest();
    });
    return this.interestNext;
  }

  /** Every topic binding: queue bindings plus each stream's own name and extra patterns. */
  get bindingCount(): number {
    return this.router.size;
  }

  bindingsOf(queueName: string): Array<{ pattern: string } & BindOptions> {
    return this.router.bindingsOf(`q:${queueName}`).map(({ pattern, noLocalOwner, args }) => ({ pattern, noLocalOwner, args }));
  }

  // ---- publishing ---------------------------------------------------------------------------

  private countIn(message: Message): void {
    this.traffic.messagesIn++;
    this.traffic.bytesIn += message.payload.length;
  }

  /** Queue bindings (subscriptions of every protocol, and queues bound to patterns). */
  get subscriptionCount(): number {
    return this.router.countKeys('q:');
  }

  /**
   * Routes a message by its topic to every bound queue and stream; in a cluster, also to the
   * queues of the other nodes that want it.
   */
  publish(message: Message): Promise<void> {
    checkTopicName(message.topic);
    // The broker's own status topics (plugins/sys): clients read them, only the broker writes them.
    if (message.topic.startsWith('$SYS.') && message.source !== 'sys') throw new InvalidNameError(`topic ${message.topic} is the broker's own ($SYS): clients may not publish to it`);
    if (message.topic.charCodeAt(0) !== 0x24 /* $ */) this.countIn(message);
    const peers = this.cluster.peers;
    if (!peers || !peers.wanted(message.topic)) return this.route(message);
    return Promise.all([this.route(message), peers.fanout(message)]).then(() => undefined);
  }

  /**
   * Routes a message another node published: to this node's own queues only (the origin appended
   * it to streams and journaled it into shared queues).
   */
  publishFromPeer(message: Message): Promise<void> {
    const queues = this.router.match(message.topic)
      .filter((b) => b.target instanceof Queue && !this.sharedSet.has(b.target) && !(b.noLocalOwner !== undefined && b.noLocalOwner === message.origin))
      .map((b) => b.target as Queue);
    return queues.length ? this.deliver(message, [...new Set(queues)], []) : RESOLVED;
  }

  /** Appends a batch another node sent to this partition's leader (already routed by that node). */
  appendFromPeer(streamName: string, partition: number, batch: Buffer): Promise<void> {
    const p = this.streamRegistry.get(streamName)?.partition(partition);
    if (!p) return Promise.reject(new RangeError(`stream ${streamName} has no partition ${partition}`));
    return p.append(batch).stored;
  }

  private route(message: Message): Promise<void> {
    const bindings = this.router.match(message.topic);
    if (bindings.length === 0) {
      // The broker's own `$` topics ($SYS) nobody reads are not a client's lost message.
      if (message.topic.charCodeAt(0) !== 0x24) this.unroutable++;
      return RESOLVED;
    }
    if (bindings.length === 1 && !bindings[0].noLocalOwner) {
      const t = bindings[0].target;
      return t instanceof Queue ? this.deliver(message, [t], []) : this.deliver(message, [], [t]);
    }
    const queues: Queue[] = [];
    const streams: Stream[] = [];
    for (const b of bindings) {
      if (b.noLocalOwner !== undefined && b.noLocalOwner === message.origin) continue;
      const t = b.target;
      if (t instanceof Queue) { if (!queues.includes(t)) queues.push(t); } else if (!streams.includes(t)) streams.push(t);
    }
    return this.deliver(message, queues, streams);
  }

  /**
   * Sends straight to one queue (STOMP /queue/x, AMQP /queue/x). In a cluster, a queue that only
   * another node has (a temporary reply queue of a client connected there) is reached through it.
   */
  sendToQueue(queueName: string, message: Message): Promise<void> {
    this.countIn(message);
    const q = this.queueMap.get(queueName);
    if (q) return this.deliver(message, [q], []);
    const notFound = () => new QueueNotFoundError(`queue ${queueName} does not exist`);
    const peers = this.cluster.peers;
    if (!peers) return Promise.reject(notFound());
    return peers.sendToQueue(queueName, message).then((found) => {
      if (!found) throw notFound();
    });
  }

  /** Another node's sendToQueue for a queue of this node's own (never a shared one: every node has those). */
  sendToQueueFromPeer(queueName: string, message: Message): Promise<void> | null {
    const q = this.queueMap.get(queueName);
    return q && !this.sharedSet.has(q) ? this.deliver(message, [q], []) : null;
  }

  /** True when a publish to `topic` would reach at least one queue or stream. */
  hasRoute(topic: string): boolean {
    return this.router.match(topic).length > 0;
  }

  beginTransaction(): Transaction {
    return new Transaction(this);
  }

  /** @internal Applies a transaction's operations with one journal group. */
  async commitTransaction(apply: () => Promise<void>[]): Promise<void> {
    this.collecting = [];
    let waits: Promise<void>[];
    let entries: JournalEntry[];
    try {
      waits = apply();
    } finally {
      entries = this.collecting;
      this.collecting = null;
    }
    if (entries.length) waits.push(this.store.journal(entries));
    await Promise.all(waits);
  }

  private deliver(message: Message, queues: Queue[], streams: Stream[]): Promise<void> {
    const full = queues.find((q) => q.rejectsNext());
    if (full) return Promise.reject(new QueueFullError(`queue ${full.name} is full`));
    const seq = this.nextSeq++;
    const size = messageSize(message);
    let durableIds: number[] | null = null;
    let waits: Promise<void>[] | null = null;
    let toPage: Array<[Queue, QueueEntry]> | null = null;
    // Inside a transaction the group is written at commit: its messages stay in memory.
    const pageable = this.queueMemory.enabled && this.collecting === null;
    // A repeat of a publish routed here already (Message.publishId): this node's own queues have
    // it, or will once the first attempt is stored; shared queues and streams are written again (a
    // shared queue's store drops the repeat).
    const firstAttempt = message.publishId === undefined ? undefined : this.recentPublishes.get(message.publishId);
    let shared: Array<[Queue, SharedQueues]> | null = null;
    for (const q of queues) {
      const sharing = this.sharedOf(q);
      if (sharing) (shared ??= []).push([q, sharing]);
      if (sharing || firstAttempt) continue;
      const persisted = message.durable && q.options.durable;
      const entry: QueueEntry = {
        seq, message, deliveryCount: 0, redelivered: false, persisted, size,
        priority: message.priority, expiry: message.expiry, pageable: persisted && pageable,
      };
      if (entry.pageable && this.queueMemory.admit(entry)) (toPage ??= []).push([q, entry]);
      // Counted before enqueue: a consumer may take and acknowledge it inside enqueue.
      this.outboundMemory.admit(q, entry);
      if (!q.enqueue(entry)) this.release(entry);
      if (persisted) (durableIds ??= []).push(q.id);
      if (q.isBlocked()) (waits ??= []).push(q.whenWritable());
      const room = this.outboundMemory.whenRoom(q);
      if (room) (waits ??= []).push(room);
    }
    if (durableIds) {
      const stored = this.write({ kind: 'enqueue', seq, queues: durableIds, message: encodeMessage(message) });
      // Past the memory budget the body stays on disk only, once the journal has it.
      if (toPage) {
        const paging = toPage;
        stored.then(() => {
          for (const [q, e] of paging) if (this.queueMemory.pageOut(e)) q.packPaged();
        }, () => undefined);
      }
      (waits ??= []).push(stored);
    }
    if (firstAttempt) (waits ??= []).push(firstAttempt);
    else if (message.publishId !== undefined) this.recentPublishes.add(message.publishId, waits ? Promise.all(waits).then(() => undefined) : RESOLVED);
    if (shared) for (const [q, sharing] of shared) (waits ??= []).push(sharing.append(q.name, message));
    for (const s of streams) (waits ??= []).push(this.appendToStream(s, [message]));
    if (!waits) return RESOLVED;
    return waits.length === 1 ? waits[0] : Promise.all(waits).then(() => undefined);
  }

  /** In a cluster, a partition this node does not lead gets its batch through its leader. */
  private appendToStream(s: Stream, messages: Message[]): Promise<void> {
    const peers = this.cluster.peers;
    if (!peers) return s.appendMessages(messages);
    return s.appendMessages(messages, (p, batch) => {
      const { leader } = this.cluster.placement(s.name, p, s.config.replicationFactor);
      return leader === this.cluster.nodeId ? null : peers.appendOnLeader(leader, s.name, p, batch);
    });
  }

  /**
   * Journals that a persisted message went to a consumer that must acknowledge it, so that a crash
   * before the ack counts as a failed delivery (max-deliveries holds across restarts). Nobody waits
   * for it: the records of one tick go in one group. One written after the message's ack is
   * ignored at recovery (the message is gone by then).
   */
  private journalDelivery(entry: JournalEntry): void {
    if (this.collecting) {
      this.collecting.push(entry);
      return;
    }
    if (this.deliveries.push(entry) > 1) return;
    setImmediate(() => removeInBackground(this.flushDeliveries()));
  }

  private flushDeliveries(): Promise<void> {
    const group = this.deliveries;
    if (group.length === 0) return RESOLVED;
    this.deliveries = [];
    return this.store.journal(group);
  }

  private write(entry: JournalEntry): Promise<void> {
    if (this.collecting) {
      this.collecting.push(entry);
      return RESOLVED;
    }
    return this.store.journal([entry]);
  }

  /** The entry left the broker: neither memory account holds its body any more. */
  private release(entry: QueueEntry): void {
    this.queueMemory.released(entry);
    this.outboundMemory.released(entry);
  }

  private entryRemoved(queue: Queue, entry: QueueEntry, reason: RemovalReason): Promise<void> {
    this.release(entry);
    const shared = this.sharedOf(queue);
    if (shared) return shared.removed(queue, entry, reason);
    if (!entry.persisted) return RESOLVED;
    return this.write({ kind: 'ack', seq: entry.seq, queue: queue.id });
  }

  /**
   * Moves an entry to its queue's dead-letter queue (or drops it when there is none). A paged-out
   * entry (expired before it was read back) has its body read first; moves made meanwhile wait
   * behind it, so the dead-letter queue gets messages in the order they were dead-lettered.
   */
  private deadLetter(queue: Queue, entry: QueueEntry, reason: string): Promise<void> {
    const shared = this.sharedOf(queue);
    // Another node owns the queue: it dead-letters the message when told.
    if (shared && !shared.owns(queue.name)) return shared.removed(queue, entry, 'dead-lettered');
    if (!queue.options.deadLetterQueue) return this.entryRemoved(queue, entry, 'dropped');
    if (entry.message !== undefined && this.movesWaiting === 0) return this.moveToDeadLetter(queue, entry, reason, entry.message);
    this.movesWaiting++;
    const body = entry.message !== undefined ? Promise.resolve(entry.message) : this.queueMemory.readCopies([entry]).then((m) => m[0]);
    const step = Promise.all([body, this.deadLetterTail]).then(([original]) => (original === undefined
      ? this.entryRemoved(queue, entry, 'dropped') // no longer stored
      : this.moveToDeadLetter(queue, entry, reason, original))).finally(() => this.movesWaiting--);
    this.deadLetterTail = step.catch(() => undefined);
    return step;
  }

  private async moveToDeadLetter(queue: Queue, entry: QueueEntry, reason: string, original: Message): Promise<void> {
    const shared = this.sharedOf(queue);
    const dlqName = queue.options.deadLetterQueue;
    // A new dead-letter queue is in the map at once; the message goes in before its definition is stored.
    let creating: Promise<Queue> | undefined;
    let dlq = this.queueMap.get(dlqName);
    if (!dlq) {
      creating = this.addQueue(dlqName, { durable: queue.options.durable, deadLetterQueue: '' });
      dlq = this.queueMap.get(dlqName) ?? await creating;
    }
    // Both reason headers carry the same value: x-dead-letter-reason (Junction's first name for it)
    // and x-death-reason (the name issue 14 and RabbitMQ users look for). An expired message
    // loses its expiry, or it would expire again in the dead-letter queue (as RabbitMQ does).
    const message: Message = {
      ...original,
      headers: {
        ...original.headers,
        'x-dead-letter-reason': reason, 'x-death-reason': reason, 'x-original-queue': queue.name, 'x-delivery-count': entry.deliveryCount,
      },
    };
    if (reason === 'expired') delete message.expiry;
    if (shared || this.sharedSet.has(dlq)) {
      await creating;
      await this.deliver(message, [dlq], []);
      return this.entryRemoved(queue, entry, 'dead-lettered');
    }
    const seq = this.nextSeq++;
    const persisted = entry.persisted && dlq.options.durable;
    this.release(entry);
    const moved: QueueEntry = {
      seq, message, deliveryCount: 0, redelivered: false, persisted, size: entry.size,
      priority: message.priority, expiry: message.expiry, pageable: persisted && this.queueMemory.enabled && this.collecting === null,
    };
    const page = moved.pageable === true && this.queueMemory.admit(moved);
    this.outboundMemory.admit(dlq, moved);
    if (!dlq.enqueue(moved)) this.release(moved);
    const group: JournalEntry[] = [];
    if (persisted) group.push({ kind: 'enqueue', seq, queues: [dlq.id], message: encodeMessage(message) });
    if (entry.persisted) group.push({ kind: 'ack', seq: entry.seq, queue: queue.id });
    if (this.collecting) this.collecting.push(...group);
    else {
      await creating;
      if (group.length) await this.store.journal(group);
      if (page && this.queueMemory.pageOut(moved)) dlq.packPaged();
    }
  }

  /** The cluster's shared queues when `q` is one of them. */
  private sharedOf(q: Queue): SharedQueues | undefined {
    return this.sharedSet.has(q) ? this.cluster.sharedQueues : undefined;
  }

  private addSharedQueue(name: string, options: QueueOptions): Queue {
    const q = new Queue(name, 0, options, this.host);
    this.putQueue(name, q);
    this.sharedSet.add(q);
    this.cluster.sharedQueues!.declared(q);
    return q;
  }

  /** Shared queues and their bindings as recovered, then as other nodes declare, bind and delete them. */
  private openSharedQueues(): void {
    if (!this.cluster.sharedQueues) return;
    for (const [name, bytes] of this.metadataStore.entries(NS_SHARED_QUEUE)) this.addSharedQueue(name, JSON.parse(bytes.toString('utf8')) as QueueOptions);
    const bind = (key: string, bytes: Buffer) => {
      const [queueName, pattern] = key.split('\u0000');
      const q = this.queueMap.get(queueName);
      if (q) this.router.bind(`q:${queueName}`, { pattern, target: q, ...(JSON.parse(bytes.toString('utf8')) as BindOptions) });
    };
    for (const [key, bytes] of this.metadataStore.entries(NS_SHARED_BINDING)) bind(key, bytes);
    this.metadataStore.onRemoteChange(NS_SHARED_QUEUE, (name, value) => {
      const q = this.queueMap.get(name);
      if (value && !q) this.addSharedQueue(name, JSON.parse(value.toString('utf8')) as QueueOptions);
      if (!value && q && this.sharedSet.has(q)) {
        this.dropQueue(name);
        this.sharedSet.delete(q);
        q.closeAll();
        this.router.unbindAll(`q:${name}`);
      }
    });
    this.metadataStore.onRemoteChange(NS_SHARED_BINDING, (key, value) => {
      if (value) return bind(key, value);
      const [queueName, pattern] = key.split('\u0000');
      this.router.unbind(`q:${queueName}`, pattern);
    });
  }

  private requireQueue(name: string): Queue {
    const q = this.queueMap.get(name);
    if (!q) throw new QueueNotFoundError(`queue ${name} does not exist`);
    return q;
  }

  // ---- streams ------------------------------------------------------------------------------

  async createStream(name: string, config: Partial<StreamConfig> = {}): Promise<Stream> {
    const stream = await this.streamRegistry.create(name, config);
    this.bindStreamPatterns(stream);
    return stream;
  }

  getStream(name: string): Stream | undefined {
    return this.streamRegistry.get(name);
  }

  streams(): IterableIterator<Stream> {
    return this.streamRegistry.all();
  }

  async deleteStream(name: string): Promise<boolean> {
    this.router.unbindAll(`s:${name}`);
    await this.groupOffsets.deleteStream(name);
    return this.streamRegistry.delete(name);
  }

  /** Partitions of the streams `owner`'s clients created (limits.maxPartitionsPerUser). */
  partitionsOwnedBy(owner: string): number {
    return this.streamRegistry.partitionsOwnedBy(owner);
  }

  addPartitions(name: string, total: number): Promise<void> {
    return this.streamRegistry.addPartitions(name, total);
  }

  async reconfigureStream(name: string, patch: Partial<StreamConfig>): Promise<void> {
    await this.streamRegistry.reconfigure(name, patch);
    const stream = this.streamRegistry.get(name)!;
    this.router.unbindAll(`s:${name}`);
    this.bindStreamPatterns(stream);
  }

  /**
   * Appends one pre-encoded record batch (Kafka produce). Once stored, its records are routed to
   * every other queue and stream bound to the stream's topic, decoded only if there is one.
   */
  appendBatch(streamName: string, partition: number, batch: Buffer): AppendResult {
    const stream = this.streamRegistry.get(streamName);
    const p = stream?.partition(partition);
    if (!stream || !p) throw new RangeError(`stream ${streamName} has no partition ${partition}`);
    const result = p.append(batch);
    if (result.duplicate) return result;
    this.traffic.messagesIn += batch.length >= 61 ? batch.readInt32BE(57) : 0;
    this.traffic.bytesIn += batch.length;
    const others = this.router.match(streamName).filter((b) => b.target !== stream);
    const peers = this.cluster.peers?.wanted(streamName) ? this.cluster.peers : undefined;
    if (others.length === 0 && !peers) return result;
    const stored = result.stored.then(async () => {
      const messages = (await decodeRecordsAsync(batch)).map((r) => recordToMessage(r, streamName));
      const waits: Promise<void>[] = [];
      const queues = [...new Set(others.map((b) => b.target).filter((t): t is Queue => t instanceof Queue))];
      const streams = [...new Set(others.map((b) => b.target).filter((t): t is Stream => !(t instanceof Queue)))];
      for (const m of messages) waits.push(this.deliver(m, queues, streams));
      if (peers) for (const m of messages) waits.push(peers.fanout(m));
      await Promise.all(waits);
    });
    return { ...result, stored };
  }

  /**
   * Allocates a Kafka-style producer id, unique across restarts and, in a cluster, across nodes
   * (the node id fills the high bits; the counter is this node's own).
   */
  async allocateProducerId(): Promise<bigint> {
    const next = (this.metadataStore.getJson<number>(NS_COUNTER, 'producer-id') ?? 1000) + 1;
    await this.metadataStore.putJson(NS_COUNTER, 'producer-id', next);
    return this.cluster.clustered ? (BigInt(this.cluster.nodeId + 1) << 40n) + BigInt(next) : BigInt(next);
  }

  private bindStreamPatterns(stream: Stream): void {
    for (const pattern of [stream.name, ...stream.config.patterns]) this.router.bind(`s:${stream.name}`, { pattern, target: stream });
  }

  private async runHousekeeping(): Promise<void> {
    const now = Date.now();
    for (const q of this.queueMap.values()) if (q.messageCount > 0) q.sweepExpired(now);
    try {
      await this.streamRegistry.applyRetention(now);
    } catch (err) {
      this.emit('warning', err);
    }
  }
}
