/**
 * Queues every node shares (core/cluster.ts SharedQueues) on JetStream:
 * - every message of every shared queue is one message of the R3 stream `JUNCTION_QUEUES`
 *   (queue-stream.ts: writes, deletes of settled messages, the per-node feed, the repair check);
 * - one owner node per queue, recorded in the KV bucket `junction-queue-owners` as
 *   `{ node, epoch }` and changed by compare-and-set: the node that declares a queue first owns
 *   it; when the owner dies, the live node that rendezvous hashing ranks first takes it over and
 *   replays the queue's subject from the stream before it delivers (skipping what its own
 *   consumers still hold). The owner runs the core Queue: delivery order, competing consumers,
 *   credit, nack / requeue, delivery counts, dead-lettering, TTL;
 * - a node with consumers of a queue it does not own attaches to the owner
 *   (`junction.qctl.<owner>`; the owner's side is remote-consumers.ts): forwarded deliveries arrive
 *   on `junction.qd.<node>` and wait in the node's Queue object for its local consumers; their
 *   acks and rejects go back to the owner. Each attachment is confirmed every PROBE_MS.
 */
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import { KvWatchInclude, type KV } from '@nats-io/kv';
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Logger } from '../../core/adapter.js';
import type { Broker } from '../../core/broker.js';
import type { SharedQueues } from '../../core/cluster.js';
import type { Message } from '../../core/message.js';
import type { Queue, RemovalReason } from '../../core/queue.js';
import type { QueueEntry, QueueOptions } from '../../core/queue-types.js';
import { CHECK_MS, KvFollower, readBucket, RetryLog, withTimeout } from './resilient.js';
import { rankNodes } from './leadership.js';
import type { Membership } from './membership.js';
import { ownerKey, queueOfOwnerKey } from './names.js';
import { DELETE_RETRY_MS, enqueueStored, QueueStream, type QueueTable, type StoredQueueMessage } from './queue-stream.js';
import { RemoteConsumers } from './remote-consumers.js';

const REQUEST_TIMEOUT_MS = 10_000;
/** A claim or attachment not done in this time is given up and tried again. */
const OPERATION_TIMEOUT_MS = 30_000;
/** How often a node confirms each of its attachments with the queue's owner. */
const PROBE_MS = 5000;

interface OwnerRecord { node: number; epoch: number }
type Control = { op: 'attach' | 'detach' | 'ack' | 'reject' | 'check' | 'probe'; queue: string; node: number; seq?: number; seqs?: number[] };

export class JetStreamSharedQueues implements SharedQueues, QueueTable {
  private broker: Broker | null = null;
  /** Every shared queue this node knows, by name. */
  readonly known = new Map<string, Queue>();
  private readonly owners = new Map<string, { rec: OwnerRecord; revision: number }>();
  /** Queues this node owns and has loaded. */
  readonly owned = new Set<string>();
  /** Queues being claimed and loaded: live messages that arrive meanwhile. */
  readonly loading = new Map<string, StoredQueueMessage[]>();
  /** Queues this node declared first: it claims them without waiting for the ranking. */
  private readonly declaredHere = new Set<string>();
  /** Owner each of this node's consumed-but-not-owned queues is attached to. */
  private readonly attached = new Map<string, number>();
  /** When each attachment was last made or confirmed. */
  private readonly probedAt = new Map<string, number>();
  /** Claims and attachments that failed and are retried: rate-limited lines, so a stuck one shows. */
  private readonly retries: RetryLog;
  /** The stream journaling every shared queue's messages. */
  private readonly stream: QueueStream;
  /** `queue \0 seq` of settlements on their way to an owner (a `check` counts them as held). */
  private readonly settling = new Set<string>();
  /** On the owner: consumers standing for other nodes. */
  private readonly remotes: RemoteConsumers;
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

  constructor(
    private readonly nc: NatsConnection,
    js: JetStreamClient,
    jsm: JetStreamManager,
    private readonly kv: KV,
    private readonly membership: Membership,
    private readonly replicas: number,
    private readonly log: Logger,
  ) {
    this.retries = new RetryLog(log);
    this.stream = new QueueStream(js, jsm, this, log);
    this.remotes = new RemoteConsumers(nc, membership.nodeId, async (node, queue, seqs) => JSON.parse(await this.ask(node, { op: 'check', queue, node: this.self, seqs })) as number[], log);
  }

  private get self(): number {
    return this.membership.nodeId;
  }

  async start(broker: Broker, intervalMs: number): Promise<void> {
    await this.stream.start(this.replicas);
    this.stops.push(() => this.stream.stop());
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
      this.remotes.dropDead(this.membership.liveIds());
      void this.reconcile();
      void this.checkOrphans().catch((err: Error) => this.log.debug({ err: err.message }, 'cluster: owner records not read'));
    });
    this.timer = setInterval(() => void this.reconcile(), intervalMs);
    this.timer.unref();
    const unacked = setInterval(() => this.remotes.checkUnacked(), CHECK_MS);
    unacked.unref();
    this.stops.push(() => clearInterval(unacked));
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
    return this.stream.append(queue, message);
  }

  owns(queue: string): boolean {
    return this.owned.has(queue);
  }

  ownerOf(queue: string): number | undefined {
    return this.owners.get(queue)?.rec.node;
  }

  declared(queue: Queue): void {
    this.known.set(queue.name, queue);
    if (!this.broker) return;
    if (!this.owners.has(queue.name)) this.declaredHere.add(queue.name);
    void this.reconcile();
  }

  async deleted(queue: Queue): Promise<void> {
    this.forget(queue.name);
    await this.stream.purge(queue.name);
    await this.kv.delete(ownerKey(queue.name)).catch(() => undefined);
  }

  consumersChanged(queue: Queue): void {
    if (!this.owned.has(queue.name)) void this.syncAttachment(queue);
  }

  async removed(queue: Queue, entry: QueueEntry, reason: RemovalReason): Promise<void> {
    // Also while this node loads a queue it just claimed: its consumers get the replay as it comes.
    if (this.owned.has(queue.name) || this.owners.get(queue.name)?.rec.node === this.self) return this.stream.remove(queue.name, entry.seq);
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
    const fetched: StoredQueueMessage[] = [];
    let last = 0;
    const add = (seq: number, data: Uint8Array) => {
      if (seq <= last && last > 0) return;
      last = Math.max(last, seq);
      fetched.push({ seq, data });
    };
    // null when the queue has no message; any other failure (JetStream unavailable) fails the claim,
    // which is retried: taking it for an empty queue would leave every stored message undelivered.
    const lastSeq = await this.stream.lastSeq(name);
    // Up to the newest message seen at the start; later ones come through the feed into `loading`.
    if (lastSeq !== null) await this.stream.readSubject(name, lastSeq, add);
    if (!current()) return; // given up (timed out): a later claim replays again
    for (const { seq, data } of this.loading.get(name) ?? []) if (seq > last) add(seq, data);
    const held = new Set(q.allEntries().map((e) => e.seq));
    for (const { seq, data } of fetched) if (!held.has(seq)) this.enqueue(q, seq, data);
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
      this.remotes.dropQueue(name, true);
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
    this.stream.forget(name);
    this.owned.delete(name);
    this.attached.delete(name);
    this.probedAt.delete(name);
    this.declaredHere.delete(name);
    this.remotes.dropQueue(name, false);
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

  /** A stored or forwarded message into the node's Queue object. */
  enqueue(q: Queue, seq: number, data: Uint8Array, deliveryCount = 0, redelivered = false): void {
    enqueueStored(q, seq, data, deliveryCount, redelivered);
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

  // ---- control requests (to the owner; `check` to an attached node) --------------------------

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
      m.respond(this.remotes.has(c.node, q.name) ? '' : 'not attached');
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
    switch (c.op) {
      case 'attach': return this.remotes.attach(q, c.node);
      case 'detach': return this.remotes.detach(q, c.node);
      case 'ack':
      case 'reject': {
        const seq = c.seq ?? -1;
        if (await this.remotes.settle(q, c.node, seq, c.op === 'reject')) return;
        // Forwarded by a previous owner: settle it wherever it is now.
        const entry = q.takeReadyBySeq(seq);
        if (entry && c.op === 'reject') return q.deadLetterEntry(entry, 'rejected');
        if (entry) q.stats.acked++;
        return this.stream.remove(q.name, seq);
      }
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
