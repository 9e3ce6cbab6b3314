/**
 * Queues every node shares (core/cluster.ts SharedQueues) on JetStream:
 * - every message of every shared queue is one message of the R3 stream `JUNCTION_QUEUES`, on the
 *   subject `junction.q.<queue>`, published by whichever node received it and acknowledged to the
 *   client once stored on a quorum; settling it (ack, expiry, dead-lettering) deletes it from the
 *   stream, so the stream always holds exactly what the queues hold;
 * - one owner node per queue, recorded in the KV bucket `junction-queue-owners` as
 *   `{ node, epoch }` and changed by compare-and-set: the node that declares a queue first owns
 *   it; when the owner dies, the live node that rendezvous hashing ranks first takes it over and
 *   replays the queue's subject from the stream before it delivers (skipping what its own
 *   consumers still hold);
 * - the owner reads new messages from one ordered consumer over the whole stream (one per node,
 *   not one per queue: queues cost no Raft group of their own) and runs the core Queue: delivery
 *   order, competing consumers, credit, nack / requeue, delivery counts, dead-lettering, TTL;
 * - a node with consumers of a queue it does not own attaches to the owner
 *   (`junction.qctl.<owner>`): the owner adds a consumer standing for that node with a window of
 *   REMOTE_WINDOW deliveries, forwards them to `junction.qd.<node>`, where they wait in the
 *   node's Queue object for its local consumers, and takes their acks, rejects and detaches back.
 *   A node that dies has its deliveries requeued by the owner (as a consumer that went away).
 *   Deliveries cross on a plain subject, at most once: one lost on the way (a nats-server killed
 *   with it in flight) would hold a window slot for ever, so the owner asks the node about
 *   deliveries unacknowledged for UNACKED_CHECK_MS (`check`), and requeues those the node does not
 *   hold (nor is acknowledging).
 * - every REPAIR_CHECK_MS the owner compares, per queue it owns, how many messages the stream holds
 *   for it with how many the queue holds (ready, delivered, being deleted); a queue short of the
 *   stream at two checks in a row (its feed missed messages: a consumer that stalled when a
 *   nats-server died) reads its subject back and takes what it lacks, up to the stream's end at the
 *   previous check, from the stream leader by sequence (a consumer can sit on a replica that lacks
 *   messages). Whatever a feed or a forward loses, a stored message is delivered in the end.
 */
import { DeliverPolicy, type JetStreamClient, type JetStreamManager, type MsgRequest } from '@nats-io/jetstream';
import { KvWatchInclude, type KV } from '@nats-io/kv';
import { headers as natsHeaders, type Msg, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import type { Logger } from '../../core/adapter.js';
import type { Broker } from '../../core/broker.js';
import type { SharedQueues } from '../../core/cluster.js';
import type { Message } from '../../core/message.js';
import { messageSize } from '../../core/message.js';
import { decodeMessage, encodeMessage } from '../../core/message-codec.js';
import type { Queue, RemovalReason } from '../../core/queue.js';
import type { Consumer } from '../../core/queue-consumer.js';
import type { QueueEntry, QueueOptions } from '../../core/queue-types.js';
import { CHECK_MS, KvFollower, readBucket, RetryLog, StallWatch, storeRefused, withTimeout } from './resilient.js';
import { rankNodes } from './leadership.js';
import type { Membership } from './membership.js';
import { dedupeMsgId, ownerKey, queueOfOwnerKey, queueOfSubject, queueSubject, QUEUE_SUBJECTS, QUEUES_STREAM } from './names.js';

/** Deliveries an owner forwards to one node ahead of its acknowledgements. */
const REMOTE_WINDOW = 64;
const REQUEST_TIMEOUT_MS = 10_000;
/** A claim or attachment not done in this time is given up and tried again. */
const OPERATION_TIMEOUT_MS = 30_000;
/** How often an owner compares its queues with what the stream holds for them. */
const REPAIR_CHECK_MS = 5000;
/** A forwarded delivery unacknowledged this long is checked with its node (lost on the way?). */
const UNACKED_CHECK_MS = 5000;
/** How often a node confirms each of its attachments with the queue's owner. */
const PROBE_MS = 5000;
/** Gaps a repair read-back searches at once (one get request each in flight). */
const READ_BACK_PARALLEL = 32;
/** How long the deletion of a settled message is retried while JetStream is unavailable. */
const DELETE_RETRY_MS = 20_000;

interface OwnerRecord { node: number; epoch: number }
interface RemoteConsumer {
  node: number;
  consumer: Consumer;
  /** Forwarded and not settled: sequence -> delivery tag and when it was sent. */
  tags: Map<number, { tag: number; at: number }>;
  checking: boolean;
}
type Control = { op: 'attach' | 'detach' | 'ack' | 'reject' | 'check' | 'probe'; queue: string; node: number; seq?: number; seqs?: number[] };

/** Runs `fn` over `items`, at most `parallel` at a time; rejects with the first failure. */
async function forEachParallel<T>(items: T[], parallel: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(parallel, items.length) }, worker));
}

function bytes(data: Uint8Array): Buffer {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}


export class JetStreamSharedQueues implements SharedQueues {
  private broker: Broker | null = null;
  /** Every shared queue this node knows, by name. */
  private readonly known = new Map<string, Queue>();
  private readonly owners = new Map<string, { rec: OwnerRecord; revision: number }>();
  /** Queues this node owns and has loaded. */
  private readonly owned = new Set<string>();
  /** Queues being claimed and loaded: live messages that arrive meanwhile. */
  private readonly loading = new Map<string, Array<{ seq: number; data: Uint8Array }>>();
  /** Queues this node declared first: it claims them without waiting for the ranking. */
  private readonly declaredHere = new Set<string>();
  /** Owner each of this node's consumed-but-not-owned queues is attached to. */
  private readonly attached = new Map<string, number>();
  /** When each attachment was last made or confirmed. */
  private readonly probedAt = new Map<string, number>();
  /** Claims and attachments that failed and are retried: rate-limited lines, so a stuck one shows. */
  private readonly retries: RetryLog;
  /** Per queue: stream messages being deleted (settled, the deletion not yet answered). */
  private readonly deleting = new Map<string, Set<number>>();
  /** Queues short of the stream at the last repair check, and the stream's last sequence then. */
  private short = new Set<string>();
  private repairBound = 0;
  private repairing = false;
  /** Per queue: sequences up to which a repair read the subject back (the feed skips them). */
  private readonly repairedUpTo = new Map<string, number>();
  /** Per queue being read back: the sequences the read and the feed enqueued meanwhile. */
  private readonly readingBack = new Map<string, Set<number>>();
  /** `queue \0 seq` of settlements on their way to an owner (a `check` counts them as held). */
  private readonly settling = new Set<string>();
  /** On the owner: consumers standing for other nodes, by `node \0 queue`. */
  private readonly remotes = new Map<string, RemoteConsumer>();
  private readonly subs: Subscription[] = [];
  private readonly stops: Array<() => void> = [];
  private timer?: NodeJS.Timeout;
  /** The claim under way per queue (a claim that timed out is no longer current). */
  private readonly claims = new Map<string, symbol>();
  /** `queue \0 epoch` of owner records already logged as orphaned. */
  private readonly orphansNoted = new Set<string>();
  /** Queues with a claim or attachment under way (reconcile). */
  private readonly busy = new Set<string>();
  private stopped = false;
  /** Stream sequence of the last message the feed delivered. */
  private feedSeq = 0;
  /** Closes the current feed (its loop then starts a new one after the last message seen). */
  private closeFeed?: () => void;
  /** Bumped for every new feed: a replaced feed's loop stops at its next message and starts nothing. */
  private feedGen = 0;
  /** The feed watchdog: feedSeq behind the stream and not moving. */
  private readonly feedStall = new StallWatch();

  constructor(
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly kv: KV,
    private readonly membership: Membership,
    private readonly replicas: number,
    private readonly log: Logger,
  ) {
    this.retries = new RetryLog(log);
  }

  private get self(): number {
    return this.membership.nodeId;
  }

  async start(broker: Broker, intervalMs: number): Promise<void> {
    try {
      await this.jsm.streams.info(QUEUES_STREAM);
    } catch {
      await this.jsm.streams.add({ name: QUEUES_STREAM, subjects: [QUEUE_SUBJECTS], num_replicas: this.replicas })
        .catch(() => this.jsm.streams.info(QUEUES_STREAM));
    }
    // The feed starts after what is stored now (replays at claim time read the rest), so the
    // stall watchdog compares it with later messages only.
    this.feedSeq = (await this.jsm.streams.info(QUEUES_STREAM)).state.last_seq;
    await this.follow();
    void this.followReconnects().catch(() => undefined);
    const owners = new KvFollower(this.kv, {
      include: KvWatchInclude.LastValue, what: 'queue owner', log: this.log,
      onEntry: (e) => this.ownerRecord(queueOfOwnerKey(e.key), e.operation === 'PUT' ? { rec: e.json<OwnerRecord>(), revision: e.revision } : null),
    });
    await owners.start();
    this.stops.push(() => owners.stop());
    this.subs.push(this.nc.subscribe(`junction.qd.${this.self}`, { callback: (err, m) => { if (!err) this.forwarded(m); } }));
    this.subs.push(this.nc.subscribe(`junction.qctl.${this.self}`, { callback: (err, m) => { if (!err) void this.control(m); } }));
    this.broker = broker;
    this.membership.onChange(() => {
      this.dropDeadRemotes();
      void this.reconcile();
      void this.checkOrphans().catch((err: Error) => this.log.debug({ err: err.message }, 'cluster: owner records not read'));
    });
    this.timer = setInterval(() => void this.reconcile(), intervalMs);
    this.timer.unref();
    const watchdog = setInterval(() => {
      void this.watchFeed().catch(() => undefined);
      this.checkRemotes();
    }, CHECK_MS);
    watchdog.unref();
    this.stops.push(() => clearInterval(watchdog));
    const repair = setInterval(() => void this.repair().catch((err: Error) => this.log.debug({ err: err.message }, 'cluster: queue repair check failed')), REPAIR_CHECK_MS);
    repair.unref();
    this.stops.push(() => clearInterval(repair));
    void this.reconcile();
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    for (const s of this.stops.splice(0)) s();
    for (const s of this.subs.splice(0)) s.unsubscribe();
  }

  // ---- SharedQueues -------------------------------------------------------------------------

  shares(options: QueueOptions): boolean {
    return options.durable && !options.autoDelete && options.exclusiveOwner === undefined;
  }

  append(queue: string, message: Message): Promise<void> {
    const msgID = dedupeMsgId(message.publishId, queue);
    return this.js.publish(queueSubject(queue), encodeMessage(message), { timeout: REQUEST_TIMEOUT_MS, msgID }).then(() => undefined, storeRefused);
  }

  owns(queue: string): boolean {
    return this.owned.has(queue);
  }

  declared(queue: Queue): void {
    this.known.set(queue.name, queue);
    if (!this.broker) return;
    if (!this.owners.has(queue.name)) this.declaredHere.add(queue.name);
    void this.reconcile();
  }

  async deleted(queue: Queue): Promise<void> {
    this.forget(queue.name);
    await this.jsm.streams.purge(QUEUES_STREAM, { filter: queueSubject(queue.name) }).catch((err: Error) => this.log.warn({ queue: queue.name, err: err.message }, 'cluster: deleted queue not purged'));
    await this.kv.delete(ownerKey(queue.name)).catch(() => undefined);
  }

  consumersChanged(queue: Queue): void {
    if (!this.owned.has(queue.name)) void this.syncAttachment(queue);
  }

  async removed(queue: Queue, entry: QueueEntry, reason: RemovalReason): Promise<void> {
    // Also while this node loads a queue it just claimed: its consumers get the replay as it comes.
    if (this.owned.has(queue.name) || this.owners.get(queue.name)?.rec.node === this.self) return this.deleteMessage(queue.name, entry.seq);
    const owner = this.attached.get(queue.name) ?? this.liveOwner(queue.name);
    if (owner < 0) throw new Error(`queue ${queue.name} has no owner node right now; the message stays queued`);
    const key = `${queue.name}\u0000${entry.seq}`;
    this.settling.add(key);
    try {
      // The owner retries the deletion while JetStream is unavailable: wait for it.
      await this.request(owner, { op: reason === 'dead-lettered' ? 'reject' : 'ack', queue: queue.name, node: this.self, seq: entry.seq }, DELETE_RETRY_MS + REQUEST_TIMEOUT_MS);
    } finally {
      this.settling.delete(key);
    }
  }

  // ---- ownership ----------------------------------------------------------------------------

  /** Owners of queues on each node (admin API). */
  ownerCounts(): Map<number, number> {
    const live = this.membership.liveIds();
    const counts = new Map<number, number>();
    for (const { rec } of this.owners.values()) if (live.has(rec.node)) counts.set(rec.node, (counts.get(rec.node) ?? 0) + 1);
    return counts;
  }

  private liveOwner(queue: string): number {
    const rec = this.owners.get(queue)?.rec;
    return rec && this.membership.liveIds().has(rec.node) ? rec.node : -1;
  }

  /** Claims every queue this node should own (declared here first, orphaned and ranked here, or recorded as ours before a restart). */
  async reconcile(): Promise<void> {
    if (!this.broker) return;
    const live = this.membership.liveIds();
    const claims: Promise<void>[] = [];
    for (const [name, q] of this.known) {
      if (q.deleted) {
        this.forget(name);
        continue;
      }
      if (this.owned.has(name) || this.loading.has(name) || this.busy.has(name)) continue;
      const entry = this.owners.get(name);
      const mine = entry?.rec.node === this.self;
      const orphaned = !entry || !live.has(entry.rec.node);
      const ranked = rankNodes(`queue\u0000${name}`, live)[0];
      if (entry && orphaned && !mine) this.noteOrphan(name, entry.rec, ranked);
      if (mine || (orphaned && ((!entry && this.declaredHere.has(name)) || ranked === this.self))) {
        claims.push(this.guard(name, () => this.claim(q)));
      } else if (q.consumers.length > 0) {
        claims.push(this.guard(name, () => this.syncAttachment(q)));
      }
    }
    await Promise.all(claims);
  }

  /**
   * After a membership change, reads the owner records straight from the bucket (a watch may lag):
   * records newer than this node's view replace it, and a queue whose owner left but that this node
   * has never seen is logged when this node is the one ranked to take it over (its definition has
   * not reached this node: failover diagnostics).
   */
  private async checkOrphans(): Promise<void> {
    const live = this.membership.liveIds();
    for (const e of await readBucket(this.kv, 'queue owners', this.log)) {
      const name = queueOfOwnerKey(e.key);
      const rec = e.json<OwnerRecord>();
      this.ownerRecord(name, { rec, revision: e.revision });
      if (live.has(rec.node) || this.known.has(name) || rankNodes(`queue\u0000${name}`, live)[0] !== this.self) continue;
      this.log.warn({ queue: name, deadOwner: rec.node }, 'cluster: queue owner left, but the queue is unknown on the node ranked to take it over');
    }
    void this.reconcile();
  }

  /** Logs once per dead owner that a queue lost its owner, and which live node takes it (failover diagnostics). */
  private noteOrphan(name: string, rec: OwnerRecord, ranked: number): void {
    const key = `${name}\u0000${rec.epoch}`;
    if (this.orphansNoted.has(key)) return;
    if (this.orphansNoted.size > 10_000) this.orphansNoted.clear();
    this.orphansNoted.add(key);
    this.log.info({ queue: name, deadOwner: rec.node, epoch: rec.epoch, takenBy: ranked }, 'cluster: queue owner left');
  }

  /** One claim or attachment per queue at a time, bounded in time: a hung JetStream call frees the queue for the next try. */
  private async guard(name: string, fn: () => Promise<void>): Promise<void> {
    this.busy.add(name);
    try {
      await withTimeout(fn(), OPERATION_TIMEOUT_MS, `claim or attachment of queue ${name}`);
    } catch (err) {
      this.retries.note({ queue: name, err: (err as Error).message }, 'cluster: queue claim did not complete (retried)');
      // A claim that hangs is no longer current: the next reconcile claims afresh.
      this.claims.delete(name);
      this.loading.delete(name);
    } finally {
      this.busy.delete(name);
    }
  }

  private async claim(q: Queue): Promise<void> {
    const name = q.name;
    const entry = this.owners.get(name);
    const rec: OwnerRecord = { node: this.self, epoch: (entry?.rec.epoch ?? 0) + 1 };
    const claim = Symbol(name);
    this.claims.set(name, claim);
    this.loading.set(name, []);
    try {
      const revision = entry ? await this.kv.update(ownerKey(name), JSON.stringify(rec), entry.revision) : await this.kv.create(ownerKey(name), JSON.stringify(rec));
      this.owners.set(name, { rec, revision });
      this.declaredHere.delete(name);
      // A replay that hangs (JetStream calls that never answer) is given up; the next claim replays again.
      await withTimeout(this.load(q, () => this.claims.get(name) === claim), OPERATION_TIMEOUT_MS, `replay of queue ${name}`);
      if (this.owned.has(name)) this.log.info({ queue: name, epoch: rec.epoch }, 'cluster: owning queue');
      else this.retries.stuck({ queue: name, epoch: rec.epoch }, 'cluster: queue claimed but its replay was given up (claimed again)');
    } catch (err) {
      this.retries.note({ queue: name, err: (err as Error).message }, 'cluster: queue claim did not complete (retried)');
      // The update may have been stored though its answer was lost (a timeout), or lost to another
      // node: the retry needs the record as the stream leader has it now, even when that is older
      // than the revision this node knew (after nats-server kills, replicas were seen to diverge).
      const now = await this.kv.get(ownerKey(name)).catch(() => undefined);
      if (now === undefined) {
        this.retries.stuck({ queue: name, err: (err as Error).message }, 'cluster: queue claim failed and the owner record could not be read back');
      } else {
        if (now !== null && now.revision < (this.owners.get(name)?.revision ?? 0)) {
          this.retries.stuck({ queue: name, knownRevision: this.owners.get(name)?.revision, storedRevision: now.revision }, 'cluster: the stored owner record is older than the one this node knew; using the stored one');
        }
        this.owners.delete(name);
        this.ownerRecord(name, now?.operation === 'PUT' ? { rec: now.json<OwnerRecord>(), revision: now.revision } : null);
      }
    } finally {
      if (this.claims.get(name) === claim) {
        this.claims.delete(name);
        this.loading.delete(name);
      }
    }
  }

  /**
   * Replays the queue's messages from the stream, then those that arrived live meanwhile. Entries
   * this node's consumers hold (forwarded by the previous owner) are not delivered again.
   */
  private async load(q: Queue, current: () => boolean): Promise<void> {
    const name = q.name;
    await this.detach(q);
    const fetched: Array<{ seq: number; data: Uint8Array }> = [];
    let last = 0;
    const add = (seq: number, data: Uint8Array) => {
      if (seq <= last && last > 0) return;
      last = Math.max(last, seq);
      fetched.push({ seq, data });
    };
    // null when the queue has no message; any other failure (JetStream unavailable) fails the claim,
    // which is retried: taking it for an empty queue would leave every stored message undelivered.
    const lastMsg = await this.jsm.streams.getMessage(QUEUES_STREAM, { last_by_subj: queueSubject(name) });
    // Up to the newest message seen at the start; later ones come through the feed into `loading`.
    if (lastMsg) await this.readSubject(name, lastMsg.seq, add);
    if (!current()) return; // given up (timed out): a later claim replays again
    for (const { seq, data } of this.loading.get(name) ?? []) if (seq > last) add(seq, data);
    const held = new Set(q.allEntries().map((e) => e.seq));
    for (const { seq, data } of fetched) if (!held.has(seq)) this.enqueue(q, seq, data, 0, false);
    this.owned.add(name);
  }

  /** The owner record of `name` as the watch or a read found it; older revisions than the one known are ignored. */
  private ownerRecord(name: string, entry: { rec: OwnerRecord; revision: number } | null): void {
    const known = this.owners.get(name);
    if (entry && known && entry.revision <= known.revision) return;
    if (entry) this.owners.set(name, entry);
    else this.owners.delete(name);
    this.ownerChanged(name);
  }

  /** Another node took the queue, or its owner changed: forwarded deliveries go back, consumers re-attach. */
  private ownerChanged(name: string): void {
    const q = this.known.get(name);
    const owner = this.owners.get(name)?.rec.node;
    if (this.owned.has(name) && owner !== this.self) {
      this.log.warn({ queue: name, owner }, 'cluster: queue taken over by another node');
      this.owned.delete(name);
      for (const [key, rc] of this.remotes) if (key.endsWith(`\u0000${name}`)) { rc.consumer.pause(); this.remotes.delete(key); }
      q?.takeReady();
    }
    if (q && !this.owned.has(name) && this.attached.has(name) && this.attached.get(name) !== owner) {
      this.attached.delete(name);
      q.takeReady();
    }
    if (q && !this.owned.has(name)) void this.syncAttachment(q);
  }

  private forget(name: string): void {
    this.known.delete(name);
    this.repairedUpTo.delete(name);
    this.owned.delete(name);
    this.attached.delete(name);
    this.probedAt.delete(name);
    this.declaredHere.delete(name);
    for (const key of [...this.remotes.keys()]) if (key.endsWith(`\u0000${name}`)) this.remotes.delete(key);
  }

  // ---- a node with consumers of a queue it does not own -------------------------------------

  private async syncAttachment(q: Queue): Promise<void> {
    const want = q.consumers.length > 0 && !q.deleted;
    const owner = this.liveOwner(q.name);
    const at = this.attached.get(q.name);
    if (at !== undefined && (!want || at !== owner)) await this.detach(q);
    if (at !== undefined && want && at === owner) await this.probeAttachment(q, owner);
    if (!want || owner < 0 || owner === this.self || this.attached.has(q.name)) return;
    this.attached.set(q.name, owner);
    this.probedAt.set(q.name, Date.now());
    try {
      await this.request(owner, { op: 'attach', queue: q.name, node: this.self });
    } catch (err) {
      if (this.attached.get(q.name) === owner) this.attached.delete(q.name);
      this.retries.note({ queue: q.name, owner, err: (err as Error).message }, 'cluster: attach to queue owner failed (retried)');
    }
  }

  /**
   * Every PROBE_MS an attachment is confirmed with its owner: an owner that dropped it (it judged
   * this node dead for a moment, or restarted) would otherwise never forward again while this
   * node waits. A lost attachment is made again; what was forwarded under it went back to the queue.
   */
  private async probeAttachment(q: Queue, owner: number): Promise<void> {
    if (Date.now() - (this.probedAt.get(q.name) ?? 0) < PROBE_MS) return;
    this.probedAt.set(q.name, Date.now());
    const reply = await this.ask(owner, { op: 'probe', queue: q.name, node: this.self }).catch(() => ''); // unanswered: asked again at the next probe
    if (reply === '' || this.attached.get(q.name) !== owner) return;
    this.log.warn({ queue: q.name, owner, reply }, 'cluster: queue owner had lost this node\'s attachment; attaching again');
    this.attached.delete(q.name);
    q.takeReady();
  }

  /** Gives the forwarded deliveries not yet taken back to the owner (they are requeued there). */
  private async detach(q: Queue): Promise<void> {
    const owner = this.attached.get(q.name);
    if (owner === undefined) return;
    this.attached.delete(q.name);
    q.takeReady();
    if (this.membership.liveIds().has(owner)) {
      await this.request(owner, { op: 'detach', queue: q.name, node: this.self }).catch(() => undefined);
    }
  }

  /** A delivery the owner forwarded for this node's consumers. */
  private forwarded(m: Msg): void {
    const name = m.headers?.get('Q') ?? '';
    const from = Number(m.headers?.get('O'));
    const q = this.known.get(name);
    if (!q || q.deleted || this.owned.has(name) || this.attached.get(name) !== from) return;
    this.enqueue(q, Number(m.headers!.get('S')), m.data, Number(m.headers!.get('D')), m.headers!.get('R') === '1');
  }

  private enqueue(q: Queue, seq: number, data: Uint8Array, deliveryCount: number, redelivered: boolean): void {
    const message = decodeMessage(Buffer.from(bytes(data)));
    // Acknowledged to its publisher already: kept even past a 'reject' bound (bounds apply on the owner only).
    q.enqueue({ seq, message, deliveryCount, redelivered, persisted: true, size: messageSize(message) }, true);
  }

  // ---- the owner ----------------------------------------------------------------------------

  /**
   * New messages of every shared queue, from one ordered consumer: the owner enqueues them. Should
   * the consumer end (JetStream unavailable for too long), it starts again after the last message seen.
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
        if (name === null) continue;
        const buffer = this.loading.get(name);
        if (buffer) buffer.push({ seq: m.seq, data: m.data });
        else if (m.seq <= (this.repairedUpTo.get(name) ?? 0)) continue; // read back by a repair already
        else if (this.owned.has(name)) {
          const q = this.known.get(name);
          const readBack = this.readingBack.get(name);
          if (readBack?.has(m.seq)) continue; // the read-back has it
          readBack?.add(m.seq);
          if (q && !q.deleted) this.enqueue(q, m.seq, m.data, 0, false);
        }
      }
    })().catch((err) => this.log.warn({ err: (err as Error).message }, 'cluster: shared queue feed ended'))
      .finally(() => {
        if (gen === this.feedGen) this.restartFeed();
      });
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
   * every queue this node owns then stops receiving. Checked every few intervals: a feed that stays
   * behind the stream's last sequence without moving is closed, and starts again after the last
   * message it saw.
   */
  private async watchFeed(): Promise<void> {
    if (this.stopped || !this.closeFeed || this.owned.size === 0) return;
    const last = (await this.jsm.streams.info(QUEUES_STREAM)).state.last_seq;
    if (!this.feedStall.stalled(this.feedSeq, last)) return;
    this.log.warn({ feedSeq: this.feedSeq, streamLastSeq: last }, 'cluster: shared queue feed stalled; restarting it');
    const close = this.closeFeed;
    this.closeFeed = undefined;
    this.feedGen++;
    close();
    this.restartFeed();
  }

  /**
   * After this node's NATS connection came back, deliveries owners forwarded meanwhile may be lost
   * (plain subjects): every attachment is made again, so the owners requeue what they had sent.
   */
  private async followReconnects(): Promise<void> {
    for await (const s of this.nc.status()) {
      if (s.type !== 'reconnect' || this.stopped) continue;
      for (const name of [...this.attached.keys()]) {
        const q = this.known.get(name);
        if (!q) continue;
        await this.detach(q);
        await this.syncAttachment(q);
      }
    }
  }

  private async control(m: Msg): Promise<void> {
    let c: Control;
    try {
      c = JSON.parse(m.string()) as Control;
    } catch {
      m.respond('malformed request');
      return;
    }
    const q = this.known.get(c.queue);
    if (c.op === 'check') {
      // The owner asks which of its deliveries this node holds (ready, with a consumer, or being settled).
      const held = new Set(q ? q.allEntries().map((e) => e.seq) : []);
      m.respond(JSON.stringify((c.seqs ?? []).filter((s) => held.has(s) || this.settling.has(`${c.queue}\u0000${s}`))));
      return;
    }
    if (!q || !this.owned.has(c.queue)) {
      m.respond(`not the owner of queue ${c.queue}`);
      return;
    }
    if (c.op === 'probe') {
      m.respond(this.remotes.has(`${c.node}\u0000${q.name}`) ? '' : 'not attached');
      return;
    }
    try {
      await this.apply(q, c);
      m.respond('');
    } catch (err) {
      m.respond((err as Error).message || 'failed');
    }
  }

  private async apply(q: Queue, c: Control): Promise<void> {
    const key = `${c.node}\u0000${q.name}`;
    const rc = this.remotes.get(key);
    switch (c.op) {
      case 'attach': {
        if (rc) return;
        const tags = new Map<number, { tag: number; at: number }>();
        const subject = `junction.qd.${c.node}`;
        const consumer = q.consume({ prefetch: REMOTE_WINDOW, autoAck: false, creditMode: false }, (d) => {
          tags.set(d.seq, { tag: d.tag, at: Date.now() });
          const h = natsHeaders();
          h.set('Q', q.name);
          h.set('O', String(this.self));
          h.set('S', String(d.seq));
          h.set('D', String(d.deliveryCount));
          h.set('R', d.redelivered ? '1' : '0');
          this.nc.publish(subject, encodeMessage(d.message), { headers: h });
        });
        this.remotes.set(key, { node: c.node, consumer, tags, checking: false });
        return;
      }
      case 'detach': {
        if (!rc) return;
        this.remotes.delete(key);
        for (const tag of rc.consumer.unackedTags()) await rc.consumer.nack(tag, { requeue: true, failed: false });
        rc.consumer.close(false);
        return;
      }
      case 'ack':
      case 'reject': {
        const seq = c.seq ?? -1;
        const tag = rc?.tags.get(seq)?.tag;
        if (rc && tag !== undefined && rc.consumer.isUnacked(tag)) {
          rc.tags.delete(seq);
          return c.op === 'ack' ? rc.consumer.ack(tag) : rc.consumer.reject(tag);
        }
        // Forwarded by a previous owner: settle it wherever it is now.
        const entry = q.takeReadyBySeq(seq);
        if (entry && c.op === 'reject') return q.deadLetterEntry(entry, 'rejected');
        if (entry) q.stats.acked++;
        return this.deleteMessage(q.name, seq);
      }
    }
  }

  /**
   * Deliveries forwarded to another node and unacknowledged for UNACKED_CHECK_MS: the node says
   * which it holds; the others were lost on the way and go back to the queue (delivered again).
   */
  private checkRemotes(): void {
    const old = Date.now() - UNACKED_CHECK_MS;
    for (const [key, rc] of this.remotes) {
      if (rc.checking) continue;
      const seqs: number[] = [];
      for (const [seq, t] of rc.tags) {
        if (!rc.consumer.isUnacked(t.tag)) rc.tags.delete(seq);
        else if (t.at < old) seqs.push(seq);
      }
      if (seqs.length === 0) continue;
      const queue = key.slice(key.indexOf('\u0000') + 1);
      rc.checking = true;
      void this.ask(rc.node, { op: 'check', queue, node: this.self, seqs })
        .then(async (reply) => {
          const held = new Set(JSON.parse(reply) as number[]);
          let lost = 0;
          for (const seq of seqs) {
            const t = rc.tags.get(seq);
            if (held.has(seq) || !t || !rc.consumer.isUnacked(t.tag) || this.remotes.get(key) !== rc) continue;
            rc.tags.delete(seq);
            await rc.consumer.nack(t.tag, { requeue: true, failed: false });
            lost++;
          }
          if (lost > 0) this.log.warn({ queue, node: rc.node, lost }, 'cluster: deliveries lost on the way to a node were requeued');
          for (const seq of held) { const t = rc.tags.get(seq); if (t) t.at = Date.now(); }
        })
        .catch(() => undefined)
        .finally(() => { rc.checking = false; });
    }
  }

  /** Consumers standing for nodes that died: their deliveries go back to the queue. */
  private dropDeadRemotes(): void {
    const live = this.membership.liveIds();
    for (const [key, rc] of this.remotes) {
      if (live.has(rc.node)) continue;
      this.remotes.delete(key);
      rc.consumer.close(true);
    }
  }

  private async deleteMessage(queue: string, seq: number): Promise<void> {
    let pending = this.deleting.get(queue);
    if (!pending) this.deleting.set(queue, (pending = new Set()));
    pending.add(seq);
    try {
      // Retried while JetStream is unavailable (a nats-server just died): the settlement waits,
      // rather than failing and leaving the consumer's ack undone.
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

  /** The repair check (see the header): queues short of the stream twice in a row read their subject back. */
  private async repair(): Promise<void> {
    if (this.repairing || this.stopped || this.owned.size === 0) return;
    this.repairing = true;
    try {
      const info = await this.jsm.streams.info(QUEUES_STREAM, { subjects_filter: QUEUE_SUBJECTS });
      const bound = this.repairBound;
      this.repairBound = info.state.last_seq;
      const counts = info.state.subjects ?? {};
      const short = new Set<string>();
      for (const name of this.owned) {
        const q = this.known.get(name);
        if (!q || q.deleted || this.loading.has(name)) continue;
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
   * The stored messages of `queue` with sequences up to `upTo`, in order: an ordered consumer over
   * its subject, read in batches until `upTo` (or nothing is pending, or a batch comes back empty).
   */
  private async readSubject(queue: string, upTo: number, each: (seq: number, data: Uint8Array) => void): Promise<void> {
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
    const found: Array<{ seq: number; data: Uint8Array }> = [];
    try {
      await withTimeout(forEachParallel(gaps, READ_BACK_PARALLEL, async ([first, last]) => {
        for (let at = first; at <= last;) {
          const m = await this.jsm.streams.getMessage(QUEUES_STREAM, { seq: at, next_by_subj: queueSubject(q.name) } as unknown as MsgRequest);
          if (!m || m.seq > last) return;
          found.push({ seq: m.seq, data: m.data });
          at = m.seq + 1;
        }
      }), OPERATION_TIMEOUT_MS, `read-back of queue ${q.name}`);
      let read = 0;
      for (const { seq, data } of found.sort((a, b) => a.seq - b.seq)) {
        if (taken.has(seq) || !this.owned.has(q.name) || this.readingBack.get(q.name) !== taken) continue;
        taken.add(seq);
        this.enqueue(q, seq, data, 0, false);
        read++;
      }
      this.repairedUpTo.set(q.name, Math.max(bound, this.repairedUpTo.get(q.name) ?? 0));
      if (read > 0) this.log.warn({ queue: q.name, messages: read }, 'cluster: queue was missing stored messages; read them back from the stream leader');
    } finally {
      if (this.readingBack.get(q.name) === taken) this.readingBack.delete(q.name);
    }
  }

  /** A control request to `node`; resolves with its answer ('' = done). */
  private async ask(node: number, c: Control, timeout = REQUEST_TIMEOUT_MS): Promise<string> {
    return (await this.nc.request(`junction.qctl.${node}`, JSON.stringify(c), { timeout })).string();
  }

  private async request(node: number, c: Control, timeout = REQUEST_TIMEOUT_MS): Promise<void> {
    const text = await this.ask(node, c, timeout);
    if (text !== '') throw new Error(`node ${node}: ${text}`);
  }
}
