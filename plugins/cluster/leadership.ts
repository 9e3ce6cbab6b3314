/**
 * One leader per stream partition, recorded in the KV bucket `junction-leaders` as
 * `{ node, epoch }` and changed only by compare-and-set on the entry's revision, so two nodes can
 * never both win the same takeover. A partition whose leader is dead (or that has none) is taken
 * by the live node that rendezvous hashing ranks first for it; a node that finds itself recorded
 * as leader after a restart takes the partition back with a new epoch. The new leader resyncs
 * the partition from JetStream before it serves anything (dense offsets, producer state).
 *
 * Ownership is only a routing decision: the safety of the data rests on the expected-sequence
 * check of every append (jetstream-partition.ts), which fences a leader that missed a takeover.
 */
import { createHash } from 'node:crypto';
import { KvWatchInclude, type KV } from '@nats-io/kv';
import type { Logger } from '../../core/adapter.js';
import type { Broker } from '../../core/broker.js';
import type { PartitionPlacement } from '../../core/cluster.js';
import type { Membership } from './membership.js';
import { leaderKey } from './names.js';
import { KvFollower, RetryLog, withTimeout } from './resilient.js';

/** A claim or resync not done in this time is given up and tried again. */
const OPERATION_TIMEOUT_MS = 30_000;

interface LeaderRecord { node: number; epoch: number }

/** Live nodes ranked for a key, best first (rendezvous / highest-random-weight hashing). */
export function rankNodes(key: string, nodes: Iterable<number>): number[] {
  const weight = (n: number) => createHash('sha1').update(`${key}\u0000${n}`).digest().readUInt32BE(0);
  return [...nodes].map((n) => ({ n, w: weight(n) })).sort((a, b) => b.w - a.w || a.n - b.n).map((x) => x.n);
}

export class Leadership {
  private readonly records = new Map<string, { rec: LeaderRecord; revision: number }>();
  /** Partitions this node leads and has resynced. */
  private readonly leading = new Set<string>();
  private readonly busy = new Set<string>();
  private timer?: NodeJS.Timeout;
  private stopWatch: (() => void) | null = null;

  constructor(
    private readonly kv: KV,
    private readonly membership: Membership,
    private readonly broker: () => Broker,
    private readonly fenced: (stream: string, partition: number) => boolean,
    private readonly log: Logger,
    /** Preferred-leader election: after this long up, take back the partitions this node ranks first for (0 = never). */
    private readonly rebalanceDelayMs = 0,
  ) {
    this.retries = new RetryLog(log);
  }

  private readonly startedAt = Date.now();
  private readonly retries: RetryLog;

  private rebalanceDue(): boolean {
    return this.rebalanceDelayMs > 0 && Date.now() - this.startedAt >= this.rebalanceDelayMs;
  }

  private get self(): number {
    return this.membership.nodeId;
  }

  async start(intervalMs: number): Promise<void> {
    const follower = new KvFollower(this.kv, {
      include: KvWatchInclude.LastValue, what: 'partition leader', log: this.log,
      onEntry: (e) => {
        if (e.operation !== 'PUT') {
          this.records.delete(e.key);
          this.leading.delete(e.key);
          return;
        }
        const rec = e.json<LeaderRecord>();
        this.records.set(e.key, { rec, revision: e.revision });
        if (rec.node !== this.self && this.leading.delete(e.key)) {
          this.log.info({ partition: e.key, leader: rec.node, epoch: rec.epoch }, 'cluster: partition taken over by another node');
        }
      },
    });
    await follower.start();
    this.stopWatch = () => follower.stop();
    this.membership.onChange(() => void this.reconcile());
    this.timer = setInterval(() => void this.reconcile(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.stopWatch?.();
  }

  placement(stream: string, partition: number, replicationFactor: number): PartitionPlacement {
    const key = leaderKey(stream, partition);
    const live = this.membership.liveIds();
    const entry = this.records.get(key);
    const rec = entry?.rec;
    const serving = rec !== undefined && live.has(rec.node) && (rec.node !== this.self || this.leading.has(key));
    const leader = serving ? rec.node : -1;
    const ranked = rankNodes(key, live);
    const replicas = [...(leader >= 0 ? [leader] : []), ...ranked.filter((n) => n !== leader)].slice(0, Math.max(1, replicationFactor));
    return { leader, epoch: rec?.epoch ?? 0, replicas, isr: replicas.filter((n) => live.has(n)) };
  }

  /** Partitions led by each node (admin API). */
  leaders(): Map<number, number> {
    const live = this.membership.liveIds();
    const counts = new Map<number, number>();
    for (const { rec } of this.records.values()) if (live.has(rec.node)) counts.set(rec.node, (counts.get(rec.node) ?? 0) + 1);
    return counts;
  }

  /** Claims every partition this node should lead and resyncs fenced ones. */
  async reconcile(): Promise<void> {
    const live = this.membership.liveIds();
    const rebalance = this.rebalanceDue();
    const work: Promise<void>[] = [];
    for (const stream of this.broker().streams()) {
      for (let p = 0; p < stream.partitions.length; p++) {
        const key = leaderKey(stream.name, p);
        if (this.busy.has(key)) continue;
        const entry = this.records.get(key);
        const mine = entry?.rec.node === this.self;
        if (mine && this.leading.has(key)) {
          if (this.fenced(stream.name, p)) work.push(this.guard(key, () => this.resync(stream.name, p, key)));
          continue;
        }
        const orphaned = !entry || !live.has(entry.rec.node) || mine;
        const preferred = rankNodes(key, live)[0] === this.self;
        // A live leader gives way to the preferred node once that node has been up rebalanceDelayMs
        // (Kafka's preferred-leader election); the epoch bump and the append fencing keep it safe.
        if ((orphaned && (mine || preferred)) || (preferred && rebalance)) work.push(this.guard(key, () => this.claim(stream.name, p, key)));
      }
    }
    await Promise.all(work);
  }

  /** Runs one change of `key` at a time, bounded in time (a hung JetStream call frees the key for the next try). */
  private async guard(key: string, fn: () => Promise<void>): Promise<void> {
    this.busy.add(key);
    try {
      await withTimeout(fn(), OPERATION_TIMEOUT_MS, `leadership change of ${key}`);
    } catch (err) {
      this.retries.note({ partition: key, err: (err as Error).message }, 'cluster: leadership change did not complete (retried)');
    } finally {
      this.busy.delete(key);
    }
  }

  private async claim(stream: string, partition: number, key: string): Promise<void> {
    const entry = this.records.get(key);
    const rec: LeaderRecord = { node: this.self, epoch: (entry?.rec.epoch ?? 0) + 1 };
    const value = JSON.stringify(rec);
    let revision: number;
    try {
      revision = entry ? await this.kv.update(key, value, entry.revision) : await this.kv.create(key, value);
    } catch (err) {
      // Stored though its answer was lost, or beaten by another node: the retry needs the record as it is now.
      // The stored record wins even over a newer revision this node knew (see shared-queues.ts).
      const now = await this.kv.get(key).catch(() => null);
      if (now?.operation === 'PUT') this.records.set(key, { rec: now.json<LeaderRecord>(), revision: now.revision });
      throw err;
    }
    this.records.set(key, { rec, revision });
    await this.resync(stream, partition, key);
    this.log.info({ stream, partition, epoch: rec.epoch }, 'cluster: leading partition');
  }

  private async resync(stream: string, partition: number, key: string): Promise<void> {
    const p = this.broker().getStream(stream)?.partition(partition);
    if (!p) return;
    await p.resync();
    if (this.records.get(key)?.rec.node === this.self) this.leading.add(key);
  }
}
