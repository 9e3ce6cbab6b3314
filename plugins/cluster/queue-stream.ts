/**
 * The JetStream stream `JUNCTION_QUEUES` that journals every shared queue's message (subject
 * `junction.q.<queue>`, R3), seen from one node (shared-queues.ts runs ownership on top):
 * - `append` stores a message (acknowledged to the client once on a quorum), `remove` deletes a
 *   settled one, retried while JetStream is unavailable, so the stream holds exactly what the
 *   queues hold;
 * - the feed: one ordered consumer over the whole stream (one per node, not one per queue: queues
 *   cost no Raft group of their own) hands new messages of the queues this node owns to them, and
 *   those of a queue being loaded to its loading buffer. A feed that stalls (seen after nats-server
 *   kills) is replaced, resuming after the last message it delivered;
 * - `readSubject` replays one queue's subject (a claim's load);
 * - the repair check: every REPAIR_CHECK_MS the count the stream holds per owned queue is compared
 *   with what the queue holds (ready, delivered, being deleted); a queue short at two checks in a
 *   row (its feed missed messages) reads back what it lacks, up to the stream's end at the
 *   previous check, from the stream leader by sequence: a consumer can sit on a replica that lacks
 *   messages the leader has. Whatever a feed loses, a stored message is delivered in the end.
 */
import { DeliverPolicy, type JetStreamClient, type JetStreamManager, type MsgRequest } from '@nats-io/jetstream';
import type { Logger } from '../../core/adapter.js';
import { messageSize, type Message } from '../../core/message.js';
import { decodeMessage, encodeMessage } from '../../core/message-codec.js';
import type { Queue } from '../../core/queue.js';
import { CHECK_MS, StallWatch, storeRefused, withTimeout } from './resilient.js';
import { dedupeMsgId, queueOfSubject, queueSubject, QUEUE_SUBJECTS, QUEUES_STREAM } from './names.js';

const REQUEST_TIMEOUT_MS = 10_000;
/** A read-back not done in this time is given up; the next check reads again. */
const READ_BACK_TIMEOUT_MS = 30_000;
/** How often an owner compares its queues with what the stream holds for them. */
const REPAIR_CHECK_MS = 2000;
/** Gaps a repair read-back searches at once (one get request each in flight). */
const READ_BACK_PARALLEL = 32;
/** How long the deletion of a settled message is retried while JetStream is unavailable. */
export const DELETE_RETRY_MS = 20_000;

/** A stored message as the stream gives it. */
export interface StoredQueueMessage { seq: number; data: Uint8Array }

/** What the stream's reader needs of the node's queues. */
export interface QueueTable {
  /** Queues this node owns and has loaded: the feed enqueues into them. */
  readonly owned: ReadonlySet<string>;
  /** Every shared queue this node knows. */
  readonly known: ReadonlyMap<string, Queue>;
  /** Queues being claimed and loaded: the feed buffers their messages here. */
  readonly loading: ReadonlyMap<string, StoredQueueMessage[]>;
  /** Puts a stored message into the queue (never delivered before: count 0). */
  enqueue(q: Queue, seq: number, data: Uint8Array): void;
}

/**
 * Puts a message the stream (or an owner's forward) gave into a node's Queue object. Acknowledged
 * to its publisher already: kept even past a 'reject' bound (bounds apply on the owner only).
 */
export function enqueueStored(q: Queue, seq: number, data: Uint8Array, deliveryCount = 0, redelivered = false): void {
  const message = decodeMessage(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  q.enqueue({ seq, message, deliveryCount, redelivered, persisted: true, size: messageSize(message) }, true);
}

/** Runs `fn` over `items`, at most `parallel` at a time; rejects with the first failure. */
async function forEachParallel<T>(items: T[], parallel: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(parallel, items.length) }, worker));
}

export class QueueStream {
  /** Per queue: stream messages being deleted (settled, the deletion not yet answered). */
  private readonly deleting = new Map<string, Set<number>>();
  /** Stream sequence of the last message the feed delivered. */
  private feedSeq = 0;
  /** Closes the current feed (its loop then starts a new one after the last message seen). */
  private closeFeed?: () => void;
  /** Bumped for every new feed: a replaced feed's loop stops at its next message and starts nothing. */
  private feedGen = 0;
  /** The feed watchdog: feedSeq behind the stream and not moving. */
  private readonly feedStall = new StallWatch();
  /** Queues short of the stream at the last repair check, and the stream's last sequence then. */
  private short = new Set<string>();
  private repairBound = 0;
  private repairing = false;
  /** Per queue: sequences up to which a repair read the subject back (the feed skips them). */
  private readonly repairedUpTo = new Map<string, number>();
  /** Per queue being read back: the sequences the read and the feed enqueued meanwhile. */
  private readonly readingBack = new Map<string, Set<number>>();
  private readonly stops: Array<() => void> = [];
  private stopped = false;

  constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly queues: QueueTable,
    private readonly log: Logger,
  ) {}

  /** Creates the stream if it is missing, then starts the feed (after what is stored now) and its checks. */
  async start(replicas: number): Promise<void> {
    try {
      await this.jsm.streams.info(QUEUES_STREAM);
    } catch {
      await this.jsm.streams.add({ name: QUEUES_STREAM, subjects: [QUEUE_SUBJECTS], num_replicas: replicas })
        .catch(() => this.jsm.streams.info(QUEUES_STREAM));
    }
    // The feed starts after what is stored now (replays at claim time read the rest), so the
    // stall watchdog compares it with later messages only.
    this.feedSeq = (await this.jsm.streams.info(QUEUES_STREAM)).state.last_seq;
    await this.follow();
    const watchdog = setInterval(() => void this.watchFeed().catch(() => undefined), CHECK_MS);
    watchdog.unref();
    this.stops.push(() => clearInterval(watchdog));
    const repair = setInterval(() => void this.repair().catch((err: Error) => this.log.debug({ err: err.message }, 'cluster: queue repair check failed')), REPAIR_CHECK_MS);
    repair.unref();
    this.stops.push(() => clearInterval(repair));
  }

  stop(): void {
    this.stopped = true;
    for (const s of this.stops.splice(0)) s();
  }

  /** Stores a message of `queue`; one carrying a publish id is stored once within JetStream's duplicate window. */
  append(queue: string, message: Message): Promise<void> {
    const msgID = dedupeMsgId(message.publishId, queue);
    return this.js.publish(queueSubject(queue), encodeMessage(message), { timeout: REQUEST_TIMEOUT_MS, msgID }).then(() => undefined, storeRefused);
  }

  /** Deletes a settled message; retried while JetStream is unavailable, so the settlement waits rather than fails. */
  async remove(queue: string, seq: number): Promise<void> {
    let pending = this.deleting.get(queue);
    if (!pending) this.deleting.set(queue, (pending = new Set()));
    pending.add(seq);
    try {
      for (let attempt = 0, start = Date.now(); ; attempt++) {
        try {
          await this.jsm.streams.deleteMessage(QUEUES_STREAM, seq, false);
          break;
        } catch (err) {
          // Already gone (settled twice after a takeover, or the queue was purged).
          if (/no message found|not found/i.test((err as Error).message)) break;
          if (this.stopped || Date.now() - start >= DELETE_RETRY_MS) throw storeRefused(err);
          await new Promise((r) => setTimeout(r, Math.min(1000, 50 * 2 ** attempt)));
        }
      }
    } finally {
      pending.delete(seq);
      if (pending.size === 0 && this.deleting.get(queue) === pending) this.deleting.delete(queue);
    }
  }

  /** Deletes every stored message of a queue that was deleted. */
  async purge(queue: string): Promise<void> {
    await this.jsm.streams.purge(QUEUES_STREAM, { filter: queueSubject(queue) }).catch((err: Error) => this.log.warn({ queue, err: err.message }, 'cluster: deleted queue not purged'));
  }

  /** A queue this node no longer knows. */
  forget(queue: string): void {
    this.repairedUpTo.delete(queue);
  }

  /** The newest stored message of `queue` (null: none); fails when JetStream is unavailable. */
  async lastSeq(queue: string): Promise<number | null> {
    return (await this.jsm.streams.getMessage(QUEUES_STREAM, { last_by_subj: queueSubject(queue) }))?.seq ?? null;
  }

  /**
   * The stored messages of `queue` with sequences up to `upTo`, in order: an ordered consumer over
   * its subject, read in batches until `upTo` (or nothing is pending, or a batch comes back empty).
   */
  async readSubject(queue: string, upTo: number, each: (seq: number, data: Uint8Array) => void): Promise<void> {
    const oc = await this.js.consumers.get(QUEUES_STREAM, { filter_subjects: queueSubject(queue), deliver_policy: DeliverPolicy.All });
    for (let done = false; !done;) {
      let n = 0;
      for await (const m of await oc.fetch({ max_messages: 1000, expires: 2000 })) {
        n++;
        if (m.seq > upTo) {
          done = true;
          break;
        }
        each(m.seq, m.data);
        if (m.seq >= upTo || m.info.pending === 0) done = true;
      }
      if (n === 0) done = true;
    }
  }

  // ---- the feed -----------------------------------------------------------------------------

  /**
   * New messages of every shared queue, from one ordered consumer. Should the consumer end
   * (JetStream unavailable for too long), it starts again after the last message seen.
   */
  private async follow(): Promise<void> {
    const oc = await this.js.consumers.get(QUEUES_STREAM, { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: this.feedSeq + 1 });
    const messages = await oc.consume({ max_messages: 1000 });
    const gen = ++this.feedGen;
    this.closeFeed = () => void messages.close();
    this.stops.push(() => void messages.close());
    void (async () => {
      for await (const m of messages) {
        if (gen !== this.feedGen) break;
        this.feedSeq = m.seq;
        const name = queueOfSubject(m.subject);
        if (name !== null) this.fed(name, m.seq, m.data);
      }
    })().catch((err) => this.log.warn({ err: (err as Error).message }, 'cluster: shared queue feed ended'))
      .finally(() => {
        if (gen === this.feedGen) this.restartFeed();
      });
  }

  private fed(name: string, seq: number, data: Uint8Array): void {
    const buffer = this.queues.loading.get(name);
    if (buffer) return void buffer.push({ seq, data });
    if (seq <= (this.repairedUpTo.get(name) ?? 0) || !this.queues.owned.has(name)) return; // read back by a repair already, or not ours
    const readBack = this.readingBack.get(name);
    if (readBack?.has(seq)) return; // the read-back has it
    readBack?.add(seq);
    const q = this.queues.known.get(name);
    if (q && !q.deleted) this.queues.enqueue(q, seq, data);
  }

  /** Starts the feed again after the last message seen, retrying every second until it starts. */
  private restartFeed(): void {
    if (this.stopped) return;
    setTimeout(() => void this.follow().catch((err: Error) => {
      this.log.warn({ err: err.message }, 'cluster: shared queue feed not restarted yet');
      this.restartFeed();
    }), 1000).unref();
  }

  /**
   * The feed's ordered consumer can stall for good after a nats-server is killed (seen with
   * nats-server 2.9 and @nats-io/jetstream 3: no error, no message, while the stream grows), and
   * every queue this node owns then stops receiving. Checked every CHECK_MS: a feed that stays
   * behind the stream's last sequence without moving is closed, and starts again after the last
   * message it saw.
   */
  private async watchFeed(): Promise<void> {
    if (this.stopped || !this.closeFeed || this.queues.owned.size === 0) return;
    const last = (await this.jsm.streams.info(QUEUES_STREAM)).state.last_seq;
    if (!this.feedStall.stalled(this.feedSeq, last)) return;
    this.log.warn({ feedSeq: this.feedSeq, streamLastSeq: last }, 'cluster: shared queue feed stalled; restarting it');
    const close = this.closeFeed;
    this.closeFeed = undefined;
    this.feedGen++;
    close();
    this.restartFeed();
  }

  // ---- the repair ---------------------------------------------------------------------------

  /** The repair check (see the header): queues short of the stream twice in a row read their subject back. */
  private async repair(): Promise<void> {
    const { owned, known, loading } = this.queues;
    if (this.repairing || this.stopped || owned.size === 0) return;
    this.repairing = true;
    try {
      const info = await this.jsm.streams.info(QUEUES_STREAM, { subjects_filter: QUEUE_SUBJECTS });
      const bound = this.repairBound;
      this.repairBound = info.state.last_seq;
      const counts = info.state.subjects ?? {};
      const short = new Set<string>();
      for (const name of owned) {
        const q = known.get(name);
        if (!q || q.deleted || loading.has(name)) continue;
        const held = q.messageCount + q.unackedMessageCount + (this.deleting.get(name)?.size ?? 0);
        if ((counts[queueSubject(name)] ?? 0) <= held) continue;
        short.add(name);
        if (this.short.has(name) && bound > 0) await this.readBack(q, bound);
      }
      this.short = short;
    } finally {
      this.repairing = false;
    }
  }

  /**
   * Takes from the stream the queue's messages up to `bound` that it does not hold. They are read
   * from the stream leader, one get per message (`next_by_subj`), not through a consumer: after
   * nats-server kills a replica can lack messages the leader has, and a consumer placed on it
   * would never see them (the feed missed them that way). Every gap between the sequences the
   * queue holds is searched, READ_BACK_PARALLEL gaps at a time.
   */
  private async readBack(q: Queue, bound: number): Promise<void> {
    const held = [...new Set([...q.allEntries().map((e) => e.seq), ...(this.deleting.get(q.name) ?? [])])].filter((s) => s <= bound).sort((a, b) => a - b);
    const gaps: Array<[number, number]> = [];
    let from = 1;
    for (const seq of [...held, bound + 1]) {
      if (seq > from) gaps.push([from, seq - 1]);
      from = seq + 1;
    }
    // What the feed enqueues meanwhile: a slow feed delivering the same sequences must not enqueue
    // them twice. A read that hangs is given up; the next check reads again.
    const taken = new Set<number>();
    this.readingBack.set(q.name, taken);
    const found: StoredQueueMessage[] = [];
    try {
      await withTimeout(forEachParallel(gaps, READ_BACK_PARALLEL, async ([first, last]) => {
        for (let at = first; at <= last;) {
          const m = await this.jsm.streams.getMessage(QUEUES_STREAM, { seq: at, next_by_subj: queueSubject(q.name) } as unknown as MsgRequest);
          if (!m || m.seq > last) return;
          found.push({ seq: m.seq, data: m.data });
          at = m.seq + 1;
        }
      }), READ_BACK_TIMEOUT_MS, `read-back of queue ${q.name}`);
      let read = 0;
      for (const { seq, data } of found.sort((a, b) => a.seq - b.seq)) {
        if (taken.has(seq) || !this.queues.owned.has(q.name) || this.readingBack.get(q.name) !== taken) continue;
        taken.add(seq);
        this.queues.enqueue(q, seq, data);
        read++;
      }
      this.repairedUpTo.set(q.name, Math.max(bound, this.repairedUpTo.get(q.name) ?? 0));
      if (read > 0) this.log.warn({ queue: q.name, messages: read }, 'cluster: queue was missing stored messages; read them back from the stream leader');
    } finally {
      if (this.readingBack.get(q.name) === taken) this.readingBack.delete(q.name);
    }
  }
}
