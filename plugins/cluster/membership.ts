/**
 * Which Junction nodes are alive: each node puts its record (id, endpoints, instance) into the KV
 * bucket `junction-nodes` every heartbeat; a node unseen for `nodeTimeoutMs` is dead. Liveness is
 * judged from when this node last saw the record change (nats-server 2.9 sends no notice when a
 * KV entry ages out), so clocks need not agree. A clean stop deletes the record: failover then
 * starts at once instead of after the timeout.
 *
 * This node's own heartbeats come back through the same watch: another node is dead only once this
 * node has seen its own heartbeats arrive for `nodeTimeoutMs` after that node's last one, without
 * a gap. While the watch or JetStream is stalled (a nats-server was killed), nothing arrives, the
 * view stays as it was, and no node takes over what the others hold because of a hiccup on its
 * own side; when heartbeats flow again, every node has a full timeout to be heard from.
 */
import { randomUUID } from 'node:crypto';
import { KvWatchInclude, type KV } from '@nats-io/kv';
import type { Logger } from '../../core/adapter.js';
import type { NodeEndpoint, NodeInfo } from '../../core/cluster.js';
import { KvFollower } from './resilient.js';

interface NodeRecord {
  id: number;
  instance: string;
  endpoints: Record<string, NodeEndpoint>;
  startedAt: number;
  beat: number;
}

export class NodeIdInUseError extends Error {
  override readonly name = 'NodeIdInUseError';
}

export class Membership {
  private readonly seen = new Map<number, { record: NodeRecord; at: number }>();
  private readonly instance = randomUUID();
  private readonly startedAt = Date.now();
  private endpoints: Record<string, NodeEndpoint> = {};
  private timer?: NodeJS.Timeout;
  private follower: KvFollower | null = null;
  /** When this node's watch last brought back one of its own heartbeats. */
  private selfSeenAt = 0;
  /** Since when its own heartbeats have come back without a gap of half a node timeout. */
  private selfSteadySince = 0;
  private beat = 0;
  private lastLive = '';
  private readonly listeners: Array<() => void> = [];
  /** Told how each periodic heartbeat went (null: stored). */
  onHeartbeat: (err: unknown) => void = () => undefined;

  constructor(
    private readonly kv: KV,
    readonly nodeId: number,
    private readonly heartbeatMs: number,
    readonly nodeTimeoutMs: number,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    const existing = await this.kv.get(String(this.nodeId));
    if (existing && existing.operation === 'PUT' && Date.now() - existing.created.getTime() < this.nodeTimeoutMs) {
      const rec = existing.json<NodeRecord>();
      // Still beating elsewhere: wait out one timeout to be sure it is not a crashed predecessor.
      const before = rec.beat;
      await new Promise((r) => setTimeout(r, this.nodeTimeoutMs));
      const again = await this.kv.get(String(this.nodeId));
      if (again && again.operation === 'PUT' && again.json<NodeRecord>().beat !== before) {
        throw new NodeIdInUseError(`node id ${this.nodeId} is in use by another running node`);
      }
    }
    this.selfSeenAt = this.selfSteadySince = Date.now();
    const follower = new KvFollower(this.kv, {
      include: KvWatchInclude.LastValue, what: 'membership', log: this.log,
      onEntry: (e) => {
        const id = Number(e.key);
        if (e.operation !== 'PUT') this.seen.delete(id);
        else {
          const record = e.json<NodeRecord>();
          // A record loaded at start, or replayed by a watch that resumes after a stall, counts from
          // its write time, so long-dead nodes are not live. This node's own records count the same
          // way: during a replay the others' records are judged against this node's record of the
          // same moment, not against the present (which would declare every other node dead until
          // the replay reached its last records).
          const at = e.isUpdate ? Date.now() : Math.min(Date.now(), e.created.getTime());
          this.seen.set(id, { record, at });
          if (record.id === this.nodeId && record.instance === this.instance) this.ownHeartbeat(at);
        }
        this.checkChange();
      },
    });
    await follower.start();
    this.follower = follower;
    try {
      await this.heartbeat();
    } catch (err) {
      follower.stop();
      throw err;
    }
    this.timer = setInterval(() => {
      void this.heartbeat().then(() => this.onHeartbeat(null), (err) => {
        this.log.warn({ err: (err as Error).message }, 'cluster: heartbeat failed');
        this.onHeartbeat(err);
      });
      this.checkChange();
    }, this.heartbeatMs);
    this.timer.unref();
  }

  /** The listeners this node offers, published with the next heartbeat. */
  advertise(endpoints: Record<string, NodeEndpoint>): Promise<void> {
    this.endpoints = { ...endpoints };
    return this.heartbeat();
  }

  /** Called whenever the set of live nodes changes. */
  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  live(): NodeInfo[] {
    // Judged by this node's own heartbeats coming back, not by the wall clock alone (see above).
    // After a gap in them (JetStream was unavailable), nobody is judged dead until they have come
    // back steadily for a node timeout: the others' first heartbeats after the gap may land later.
    const now = Math.min(Date.now(), this.selfSeenAt);
    const judging = now - this.selfSteadySince >= this.nodeTimeoutMs;
    const out: NodeInfo[] = [];
    for (const { record, at } of this.seen.values()) {
      if (record.id === this.nodeId || !judging || now - at < this.nodeTimeoutMs) out.push({ id: record.id, endpoints: record.endpoints, startedAt: record.startedAt });
    }
    if (!out.some((n) => n.id === this.nodeId)) out.push({ id: this.nodeId, endpoints: this.endpoints, startedAt: this.startedAt });
    return out.sort((a, b) => a.id - b.id);
  }

  liveIds(): Set<number> {
    return new Set(this.live().map((n) => n.id));
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.follower?.stop();
    await this.kv.delete(String(this.nodeId)).catch(() => undefined);
  }

  private ownHeartbeat(at: number): void {
    if (at - this.selfSeenAt > this.nodeTimeoutMs / 2) this.selfSteadySince = at;
    this.selfSeenAt = Math.max(this.selfSeenAt, at);
  }

  private async heartbeat(): Promise<void> {
    const record: NodeRecord = { id: this.nodeId, instance: this.instance, endpoints: this.endpoints, startedAt: this.startedAt, beat: ++this.beat };
    await this.kv.put(String(this.nodeId), JSON.stringify(record));
  }

  private checkChange(): void {
    const ids = this.live().map((n) => n.id).join(',');
    if (ids === this.lastLive) return;
    this.lastLive = ids;
    this.log.info({ nodes: ids }, 'cluster: live nodes changed');
    for (const l of this.listeners) l();
  }
}
