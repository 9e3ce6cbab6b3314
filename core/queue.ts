/**
 * A point-to-point queue: competing consumers, one delivery per message, ack / nack / requeue,
 * delivery counts, dead-lettering, TTL and bounds with an overflow policy. Every subscription in
 * Junction is a queue too (transient ones are exclusive and auto-delete), so delivery, flow
 * control and acknowledgement work the same way for every protocol.
 */
import type { Message } from './message.js';
import { BrowseFn, BrowseOptions, QueueBrowser } from './queue-browser.js';
import { Consumer, DeliverFn } from './queue-consumer.js';
import {
  ConsumerOptions, ExclusiveQueueError, QueueEntry, QueueOptions, removeInBackground,
} from './queue-types.js';
import { ReadyEntries } from './ready-entries.js';

export type RemovalReason = 'acked' | 'expired' | 'dropped' | 'dead-lettered' | 'purged';

/** What a queue needs from the broker: journaling of removals, dead-lettering and auto-delete. */
export interface QueueHost {
  /** The entry left the queue; journal it when persisted. */
  removed(queue: Queue, entry: QueueEntry, reason: RemovalReason): Promise<void>;
  /** Moves the entry to the queue's dead-letter queue (or drops it when it has none). */
  deadLetter(queue: Queue, entry: QueueEntry, reason: 'rejected' | 'expired' | 'delivery-limit'): Promise<void>;
  /** The last consumer of an auto-delete queue left. */
  unused(queue: Queue): void;
  /** An entry left the queue without a removal to journal (a non-persisted one acknowledged). */
  released?(entry: QueueEntry): void;
  /** A consumer attached or left (a cluster forwards a shared queue's deliveries to the nodes with consumers). */
  consumersChanged?(queue: Queue): void;
  /** An entry was handed to a consumer (the broker's traffic counters). */
  delivered?(entry: QueueEntry): void;
  /** A persisted entry was handed to a consumer that must acknowledge it: its delivery is journaled. */
  awaitingAck?(queue: Queue, entry: QueueEntry): void;
  /**
   * Reads paged-out entries' bodies back into them (core/queue-memory.ts); resolves with the
   * entries whose body the store no longer has. Absent: nothing pages.
   */
  load?(entries: QueueEntry[]): Promise<QueueEntry[]>;
  /** The messages of entries, paged or not, without keeping them in the entries (browsing). */
  read?(entries: QueueEntry[]): Promise<Array<Message | undefined>>;
  /** A read-back failed (logged by the broker); the queue tries again a second later. */
  loadFailed?(queue: Queue, err: Error): void;
  /** How far to read ahead now (smaller while the memory budget is spent: queues.memoryBytes). */
  readAheadLimit?(): ReadAheadLimit;
}

/** A read-ahead batch: entries and bytes at most. */
export interface ReadAheadLimit {
  count: number;
  bytes: number;
}

export interface QueueStats {
  published: number;
  delivered: number;
  acked: number;
  redelivered: number;
  dropped: number;
  expired: number;
  deadLettered: number;
}

const RESOLVED = Promise.resolve();
/** Fraction of the bound below which blocked publishers resume. */
const LOW_WATER = 0.8;
/** Entries a dispatch pass sets aside for busy selecting consumers before it stops looking further. */
const MAX_SELECTOR_SCAN = 10000;
/** Paged entries read back in one batch ahead of the consumers, unless the host says less; one batch in flight per queue. */
const READ_AHEAD: ReadAheadLimit = { count: 512, bytes: 1024 * 1024 };
const LOAD_RETRY_MS = 1000;

export class Queue {
  /** Highest priority first, FIFO within one (ready-entries.ts); plain FIFO when the queue opted out. */
  private readonly ready: ReadyEntries;
  /**
   * Entries that no current consumer may take (every consumer is in their avoid set, or no
   * selector matches); still counted as ready. A new consumer puts them back at the head.
   */
  private parked: QueueEntry[] = [];
  /** Some consumer has a selector: every entry is checked against the consumer it would go to. */
  private selecting = false;
  private readyBytesCount = 0;
  private readonly consumerList: Consumer[] = [];
  private readonly browsers = new Set<QueueBrowser>();
  private rr = 0;
  private dispatching = false;
  private redispatch = false;
  private writableWaiters: Array<() => void> = [];
  /** A read-ahead batch is in flight (or waiting to retry after a failure). */
  private loading = false;
  /** A pack of paged-out entries is scheduled (packPaged). */
  private packing = false;
  private unackedCount = 0;
  /** Bytes of this queue's unpageable bodies in memory, kept by the broker (core/outbound-memory.ts). */
  outboundBytes = 0;
  deleted = false;
  readonly stats: QueueStats = { published: 0, delivered: 0, acked: 0, redelivered: 0, dropped: 0, expired: 0, deadLettered: 0 };

  constructor(
    readonly name: string,
    /** Stable numeric id used in the journal (0 for non-durable queues). */
    readonly id: number,
    readonly options: QueueOptions,
    readonly host: QueueHost,
  ) {
    this.ready = new ReadyEntries(options.priorities !== false);
  }

  get messageCount(): number {
    return this.ready.length + this.parked.length;
  }

  /** Ready entries packed in runs (paged out, no object each: core/paged-run.ts). */
  get packedMessageCount(): number {
    return this.ready.packed;
  }

  get unackedMessageCount(): number {
    return this.unackedCount;
  }

  get readyBytes(): number {
    return this.readyBytesCount;
  }

  get consumers(): readonly Consumer[] {
    return this.consumerList;
  }

  /** Paged-out entries at the head are being read back (a drain waits for them). */
  get readingAhead(): boolean {
    return this.loading;
  }

  /**
   * Adds an entry. Returns false (and keeps nothing) when the queue is full and its policy is
   * 'reject'. Under 'block' the entry is kept and the publisher waits on whenWritable().
   */
  enqueue(entry: QueueEntry, accepted = false): boolean {
    const o = this.options;
    // `accepted`: the message was already acknowledged to its publisher (another cluster node
    // journaled it), so a 'reject' bound cannot refuse it any more.
    if (!accepted && this.rejectsNext()) return false;
    const m = entry.message;
    if (m !== undefined) {
      entry.priority = m.priority;
      entry.expiry = m.expiry;
    }
    if (o.messageTtl > 0) {
      const ttlExpiry = Date.now() + o.messageTtl;
      if (entry.expiry === undefined || entry.expiry > ttlExpiry) {
        entry.expiry = ttlExpiry;
        if (m !== undefined) entry.message = { ...m, expiry: ttlExpiry };
      }
    }
    this.ready.push(entry);
    this.added(entry.size);
    return true;
  }

  /**
   * Adds a recovered paged message (body on disk, never delivered) without an entry object: it is
   * packed at once (core/paged-run.ts), so recovering a deep queue allocates nothing per message.
   */
  enqueuePaged(seq: number, size: number, priority: number | undefined, expiry: number | undefined): void {
    const ttl = this.options.messageTtl;
    if (ttl > 0) {
      const ttlExpiry = Date.now() + ttl;
      if (expiry === undefined || expiry > ttlExpiry) expiry = ttlExpiry;
    }
    this.ready.pushPaged(seq, size, priority, expiry);
    this.added(size);
  }

  /** Recovery: how many paged messages enqueuePaged will bring, and that it is done (sizes the runs once). */
  expectPaged(n: number): void {
    this.ready.expectPaged(n);
  }

  recoveredPaged(): void {
    this.ready.trimPaged();
  }

  /**
   * Entries of this queue have just paged out (their bodies dropped): pack them into runs at the
   * next turn of the event loop, once for all those stored in this one (core/ready-entries.ts).
   */
  packPaged(): void {
    if (this.packing) return;
    this.packing = true;
    setImmediate(() => {
      this.packing = false;
      if (!this.deleted) this.ready.pack();
    });
  }

  private added(size: number): void {
    this.stats.published++;
    this.readyBytesCount += size;
    if (this.options.overflow === 'drop-head') {
      while (this.isOverBound() && this.ready.length > 0) {
        const dropped = this.ready.shiftLowest()!;
        this.readyBytesCount -= dropped.size;
        this.stats.dropped++;
        removeInBackground(this.host.removed(this, dropped, 'dropped'));
      }
    }
    if (this.consumerList.length > 0) this.dispatch();
  }

  /** True when publishers to this queue should wait (policy 'block' and over the bound). */
  isBlocked(): boolean {
    return this.options.overflow === 'block' && this.isOverBound();
  }

  /** Resolves once the queue is below its low-water mark (immediately if not blocked). */
  whenWritable(): Promise<void> {
    if (!this.isBlocked()) return RESOLVED;
    return new Promise((resolve) => this.writableWaiters.push(resolve));
  }

  consume(options: ConsumerOptions, deliver: DeliverFn): Consumer {
    if (this.options.exclusiveOwner !== undefined && options.owner !== this.options.exclusiveOwner) {
      throw new ExclusiveQueueError(`queue ${this.name} is exclusive to another connection`);
    }
    const consumer = new Consumer(this, options, deliver);
    this.consumerList.push(consumer);
    if (options.selector) this.selecting = true;
    if (this.parked.length > 0) {
      for (let i = this.parked.length - 1; i >= 0; i--) this.ready.unshift(this.parked[i]);
      this.parked = [];
    }
    this.dispatch();
    this.host.consumersChanged?.(this);
    return consumer;
  }

  /**
   * Starts a browser over the messages ready now, in delivery order; it takes none of them.
   * The adapter calls pump() (or gives credit) once it can send.
   */
  browse(options: BrowseOptions, deliver: BrowseFn): QueueBrowser {
    if (this.options.exclusiveOwner !== undefined && options.owner !== this.options.exclusiveOwner) {
      throw new ExclusiveQueueError(`queue ${this.name} is exclusive to another connection`);
    }
    const browser = new QueueBrowser(this, [...this.ready.toArray(), ...this.parked], options, deliver);
    this.browsers.add(browser);
    return browser;
  }

  /** Called by QueueBrowser.close(). */
  stopBrowsing(browser: QueueBrowser): void {
    this.browsers.delete(browser);
  }

  /** Called by Consumer.close(). */
  detach(consumer: Consumer): void {
    const i = this.consumerList.indexOf(consumer);
    if (i >= 0) this.consumerList.splice(i, 1);
    this.selecting = this.consumerList.some((c) => c.options.selector !== undefined);
    if (this.consumerList.length === 0 && this.options.autoDelete && !this.deleted) this.host.unused(this);
    else if (!this.deleted) this.host.consumersChanged?.(this);
  }

  /** Puts entries back at the head, keeping their relative order. */
  requeue(entries: QueueEntry[]): void {
    for (let i = entries.length - 1; i >= 0; i--) {
      this.ready.unshift(entries[i]);
      this.readyBytesCount += entries[i].size;
    }
    this.dispatch();
  }

  /** Delivers ready entries to consumers with capacity, round robin. Re-entrant calls are folded in. */
  dispatch(): void {
    if (this.dispatching) {
      this.redispatch = true;
      return;
    }
    this.dispatching = true;
    try {
      do {
        this.redispatch = false;
        /** Entries that avoid every consumer with capacity now, but not every consumer: they wait at the head. */
        let waiting: QueueEntry[] | null = null;
        while (this.ready.length > 0) {
          const consumer = this.nextConsumer();
          if (!consumer) break;
          const head = this.ready.peek()!;
          if (head.expiry !== undefined && head.expiry <= Date.now()) {
            this.takeHead();
            this.expire(head);
            continue;
          }
          if (head.message === undefined) {
            // Paged out: delivery resumes once the read-ahead brings it back.
            this.readAhead();
            break;
          }
          const entry = this.takeHead()!;
          let target: Consumer | undefined = consumer;
          if ((entry.avoid !== undefined || this.selecting) && !consumer.accepts(entry)) {
            target = this.consumerList.find((c) => c.hasCapacity() && c.accepts(entry));
          }
          if (!target) {
            if (this.consumerList.some((c) => c.accepts(entry))) {
              (waiting ??= []).push(entry);
              // Selectors: stop scanning past a bound, as ActiveMQ's page size (docs/queues.md).
              if (waiting.length >= MAX_SELECTOR_SCAN) break;
            } else if (this.consumerList.some((c) => c.options.dropUnselected)) {
              removeInBackground(this.host.removed(this, entry, 'dropped'));
            } else {
              this.parked.push(entry);
              this.readyBytesCount += entry.size;
            }
            continue;
          }
          this.stats.delivered++;
          if (entry.redelivered) this.stats.redelivered++;
          this.host.delivered?.(entry);
          target.send(entry);
        }
        if (waiting) {
          for (let i = waiting.length - 1; i >= 0; i--) {
            this.ready.unshift(waiting[i]);
            this.readyBytesCount += waiting[i].size;
          }
        }
      } while (this.redispatch);
    } finally {
      this.dispatching = false;
    }
    // Keep the next batch coming while consumers take the one in memory: once the entry half a
    // batch from the head is still paged.
    if (!this.loading && this.ready.length > 0 && this.consumerList.length > 0 && this.host.load) {
      const half = (this.host.readAheadLimit?.() ?? READ_AHEAD).count >> 1;
      const ahead = this.ready.at(Math.min(half, this.ready.length - 1));
      if (ahead !== undefined && ahead.message === undefined) this.readAhead();
    }
    this.notifyWritable();
  }

  /**
   * Reads the paged entries among the next READ_AHEAD in delivery order back into memory (the
   * host's readAheadLimit), then dispatches again. One batch per queue at a time; a queue without
   * consumers reads nothing.
   */
  private readAhead(): void {
    const load = this.host.load;
    if (this.loading || !load || this.deleted) return;
    const limit = this.host.readAheadLimit?.() ?? READ_AHEAD;
    const batch: QueueEntry[] = [];
    let bytes = 0;
    for (const e of this.ready.headWindow(limit.count)) {
      if (e.message !== undefined) continue;
      batch.push(e);
      bytes += e.size;
      if (bytes >= limit.bytes) break;
    }
    if (batch.length === 0) return;
    this.loading = true;
    for (const e of batch) e.reading = true;
    const resume = (): void => {
      for (const e of batch) e.reading = false;
      this.loading = false;
      if (this.deleted || this.consumerList.length === 0) return;
      this.dispatch();
      for (const c of [...this.consumerList]) c.continueDrain();
    };
    load(batch).then((missing) => {
      for (const e of missing) this.dropMissing(e);
      resume();
    }, (err: Error) => {
      this.host.loadFailed?.(this, err);
      setTimeout(resume, LOAD_RETRY_MS).unref();
    });
  }

  /** A paged entry whose body the store no longer has (it cannot be delivered): it leaves the queue. */
  private dropMissing(entry: QueueEntry): void {
    if (this.ready.removeSeq(entry.seq) === undefined) return;
    this.readyBytesCount -= entry.size;
    this.stats.dropped++;
    removeInBackground(this.host.removed(this, entry, 'dropped'));
  }

  /** Expires entries from the head of each priority (per-queue TTL keeps each in expiry order). */
  sweepExpired(now: number): void {
    this.ready.shiftWhile(
      (head) => head.expiry !== undefined && head.expiry <= now,
      (entry) => {
        this.readyBytesCount -= entry.size;
        this.expire(entry);
      },
    );
    this.notifyWritable();
  }

  /** Removes every ready message. Returns how many were removed. */
  purge(): number {
    const entries = [...this.ready.toArray(), ...this.parked];
    this.ready.clear();
    this.parked = [];
    this.readyBytesCount = 0;
    for (const e of entries) removeInBackground(this.host.removed(this, e, 'purged'));
    this.notifyWritable();
    return entries.length;
  }

  /**
   * Takes every ready entry out without removing it from the journal: a cluster node that holds a
   * shared queue's deliveries for another node's queue gives them back this way.
   */
  takeReady(): QueueEntry[] {
    const entries = [...this.ready.toArray(), ...this.parked];
    this.ready.clear();
    this.parked = [];
    this.readyBytesCount = 0;
    this.notifyWritable();
    return entries;
  }

  /** Takes the ready entry with sequence `seq` out (without journaling), if there is one. */
  takeReadyBySeq(seq: number): QueueEntry | undefined {
    const entry = this.ready.removeSeq(seq);
    if (!entry) {
      const j = this.parked.findIndex((e) => e.seq === seq);
      if (j < 0) return undefined;
      const parked = this.parked.splice(j, 1)[0];
      this.readyBytesCount -= parked.size;
      this.notifyWritable();
      return parked;
    }
    this.readyBytesCount -= entry.size;
    this.notifyWritable();
    return entry;
  }

  /** Ready entries in delivery order from position `from` (parked ones last), without consuming them (admin). */
  peekEntries(limit: number, from = 0): QueueEntry[] {
    const out = this.ready.slice(from, limit);
    if (out.length < limit && this.parked.length > 0) {
      const start = Math.max(0, from - this.ready.length);
      out.push(...this.parked.slice(start, start + limit - out.length));
    }
    return out;
  }

  /**
   * Like peekEntries, with each entry's message: paged-out ones are read back from disk for the
   * call only (not kept). An entry consumed meanwhile, whose body is gone, is left out.
   */
  async peekMessages(limit: number, from = 0): Promise<Array<{ entry: QueueEntry; message: Message }>> {
    const entries = this.peekEntries(limit, from);
    const messages = this.host.read && entries.some((e) => e.message === undefined)
      ? await this.host.read(entries)
      : entries.map((e) => e.message);
    const out: Array<{ entry: QueueEntry; message: Message }> = [];
    for (let i = 0; i < entries.length; i++) {
      const message = messages[i];
      if (message !== undefined) out.push({ entry: entries[i], message });
    }
    return out;
  }

  /** Closes every consumer (queue deleted): their unacked entries are dropped with the queue. */
  closeAll(): void {
    this.deleted = true;
    for (const c of [...this.consumerList]) c.cancel();
    for (const b of [...this.browsers]) b.cancel();
    for (const w of this.writableWaiters.splice(0)) w();
  }

  /** Entries held (ready, parked and unacked), for deletion and shutdown bookkeeping. */
  allEntries(): QueueEntry[] {
    const out = [...this.ready.toArray(), ...this.parked];
    for (const c of this.consumerList) out.push(...c.unackedEntries());
    return out;
  }

  /** @internal bookkeeping from Consumer */
  adjustUnacked(delta: number): void {
    this.unackedCount += delta;
  }

  /** @internal a delivery failed too often or was rejected. */
  deadLetterEntry(entry: QueueEntry, reason: 'rejected' | 'delivery-limit'): Promise<void> {
    this.stats.deadLettered++;
    return this.host.deadLetter(this, entry, reason);
  }

  /**
   * Expired messages are counted, then dropped (the default, as Artemis without an expiry address)
   * or, with deadLetterOnExpiry, moved to the dead-letter queue (as RabbitMQ's DLX).
   */
  private expire(entry: QueueEntry): void {
    this.stats.expired++;
    if (this.options.deadLetterOnExpiry && this.options.deadLetterQueue) {
      this.stats.deadLettered++;
      this.host.deadLetter(this, entry, 'expired')
        .catch(() => this.host.removed(this, entry, 'dropped'))
        .catch(() => undefined);
      return;
    }
    removeInBackground(this.host.removed(this, entry, 'expired'));
  }

  private takeHead(): QueueEntry | undefined {
    const e = this.ready.shift();
    if (e) this.readyBytesCount -= e.size;
    return e;
  }

  private nextConsumer(): Consumer | undefined {
    const n = this.consumerList.length;
    for (let i = 0; i < n; i++) {
      const c = this.consumerList[(this.rr + i) % n];
      if (c.hasCapacity()) {
        this.rr = (this.rr + i + 1) % n;
        return c;
      }
    }
    return undefined;
  }

  private isOverBound(): boolean {
    const o = this.options;
    return (o.maxLength > 0 && this.messageCount > o.maxLength) || (o.maxBytes > 0 && this.readyBytesCount > o.maxBytes);
  }

  /** True when the policy is 'reject' and the queue is at its bound. */
  rejectsNext(): boolean {
    const o = this.options;
    if (o.overflow !== 'reject') return false;
    return (o.maxLength > 0 && this.messageCount >= o.maxLength) || (o.maxBytes > 0 && this.readyBytesCount >= o.maxBytes);
  }

  private notifyWritable(): void {
    if (this.writableWaiters.length === 0) return;
    const o = this.options;
    const belowLow = (o.maxLength === 0 || this.messageCount <= o.maxLength * LOW_WATER)
      && (o.maxBytes === 0 || this.readyBytesCount <= o.maxBytes * LOW_WATER);
    if (belowLow) for (const w of this.writableWaiters.splice(0)) w();
  }
}
