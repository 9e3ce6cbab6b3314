/**
 * Sessions across connections: which connection holds which client id (takeover), a lock per
 * client id so connects, disconnects and expiry of one session never interleave, session expiry
 * timers, delayed wills, membership of shared-subscription queues, and recovery at start (sessions
 * past their expiry are deleted, the others get their timers again).
 */
import { ClusterSessions } from './cluster-sessions.js';
import type { ClusterWills } from './cluster-wills.js';
import type { MqttContext } from './context.js';
import { LongTimer, NEVER } from './context.js';
import type { SessionRecord } from './session-store.js';
import { parseFilter, sessionQueueName, sharedQueueName, SESSION_QUEUE_PREFIX, SHARED_QUEUE_PREFIX } from './topics.js';

/** What the manager needs from a connection. */
export interface SessionHolder {
  /** Ends the connection because another one took its client id; resolves once its session is detached. */
  takeover(): Promise<void>;
  /** The same, for a connection on another node of a cluster: the session record is that node's now. */
  takenOverElsewhere(): Promise<void>;
  readonly session: { persist(): Promise<void> } | null;
  /** Who logged in on it (a takeover by the same user is not refused by limits.maxConnectionsPerUser). */
  readonly principal?: { user: string } | null;
}

interface PendingWill {
  timer: LongTimer;
  fire: () => Promise<void>;
}

export class SessionManager {
  readonly connections = new Map<string, SessionHolder>();
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly expiryTimers = new Map<string, LongTimer>();
  private readonly wills = new Map<string, PendingWill>();
  /** Shared-subscription queue -> client ids subscribed to it. */
  private readonly sharedMembers = new Map<string, Set<string>>();
  private closed = false;
  /** In a cluster: takeover across nodes and adoption of a dead node's sessions. */
  private cluster: ClusterSessions | null = null;

  constructor(private readonly ctx: MqttContext) {}

  /** In a cluster: wills stored as shared records, so they survive their node (cluster-wills.ts). */
  get clusterWills(): ClusterWills | null {
    return this.cluster?.wills ?? null;
  }

  /** Runs `fn` once every earlier operation on the same client id has finished. */
  withLock<T>(clientId: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(clientId) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.then(() => undefined, () => undefined);
    this.locks.set(clientId, tail);
    void tail.then(() => {
      if (this.locks.get(clientId) === tail) this.locks.delete(clientId);
    });
    return run;
  }

  /** At start: deletes expired sessions and orphans, re-arms expiry timers, rebuilds shared membership. */
  async recover(): Promise<void> {
    const { store, broker, log } = this.ctx;
    if (broker.cluster.clustered) {
      this.cluster = new ClusterSessions(this.ctx, this);
      this.cluster.start();
    }
    const now = Date.now();
    const live = new Set<string>();
    let expired = 0;
    for (const clientId of store.clientIds()) {
      const rec = store.get(clientId);
      if (!rec) {
        await store.delete(clientId);
        continue;
      }
      // Another node's session (records are shared in a cluster): that node, or its adopter, runs it.
      if (this.cluster && !this.cluster.manages(rec)) continue;
      let disconnectedAt = rec.disconnectedAt;
      if (disconnectedAt === null) {
        // The broker stopped while the client was connected: its offline time starts now.
        disconnectedAt = now;
        await store.put(clientId, { ...rec, disconnectedAt });
      }
      if (rec.expiry === 0 || (rec.expiry !== NEVER && disconnectedAt + rec.expiry * 1000 <= now)) {
        await this.deleteSession(clientId, rec);
        expired++;
        continue;
      }
      live.add(clientId);
      for (const q of sharedQueuesOf(rec)) this.addShared(q, clientId);
      this.scheduleExpiry(clientId, rec.expiry, disconnectedAt);
    }
    // Queues and in-flight keys left without a session (a crash between two writes). In a cluster,
    // what other nodes' sessions use is theirs: only state without any session record goes.
    const orphan = (clientId: string) => (this.cluster ? store.get(clientId) === undefined : !live.has(clientId));
    for (const q of [...broker.queues()]) {
      if (q.name.startsWith(SESSION_QUEUE_PREFIX) && orphan(q.name.slice(SESSION_QUEUE_PREFIX.length))) await broker.deleteQueue(q.name);
      else if (!this.cluster && q.name.startsWith(SHARED_QUEUE_PREFIX) && !this.sharedMembers.has(q.name)) await broker.deleteQueue(q.name);
    }
    for (const clientId of store.inflightClientIds()) if (orphan(clientId)) await store.delete(clientId);
    if (live.size > 0 || expired > 0) log.info({ sessions: live.size, expired }, 'mqtt: persistent sessions recovered');
  }

  // ---- expiry ---------------------------------------------------------------------------------

  scheduleExpiry(clientId: string, expirySeconds: number, from: number): void {
    this.cancelExpiry(clientId);
    if (expirySeconds === NEVER || this.closed) return;
    const timer = new LongTimer(from + expirySeconds * 1000, () => {
      if (this.expiryTimers.get(clientId) !== timer) return;
      this.expiryTimers.delete(clientId);
      void this.withLock(clientId, async () => {
        if (this.connections.has(clientId)) return;
        const rec = this.ctx.store.get(clientId);
        if (!rec || rec.disconnectedAt === null) return;
        this.ctx.stats.sessionsExpired++;
        await this.endSession(clientId);
      }).catch((err: unknown) => this.ctx.log.error({ err, clientId }, 'mqtt: session expiry failed'));
    });
    this.expiryTimers.set(clientId, timer);
  }

  cancelExpiry(clientId: string): void {
    const t = this.expiryTimers.get(clientId);
    if (t) {
      t.cancel();
      this.expiryTimers.delete(clientId);
    }
  }

  // ---- wills ----------------------------------------------------------------------------------

  /** Publishes `fire` after `delaySeconds` unless the session is resumed first (MQTT 5 will delay). */
  scheduleWill(clientId: string, delaySeconds: number, publish: () => Promise<void>): void {
    this.cancelWill(clientId);
    // Published: in a cluster its shared record goes too.
    const fire = async () => {
      await publish();
      await this.clusterWills?.discard(clientId).catch((err: Error) => this.ctx.log.warn({ err: err.message, clientId }, 'mqtt: will record not deleted'));
    };
    if (delaySeconds <= 0 || this.closed) {
      void fire();
      return;
    }
    const timer = new LongTimer(Date.now() + delaySeconds * 1000, () => void this.fireWill(clientId));
    this.wills.set(clientId, { timer, fire });
  }

  /** The session was resumed in time: its delayed will is not sent. */
  cancelWill(clientId: string): void {
    const w = this.wills.get(clientId);
    if (w) {
      w.timer.cancel();
      this.wills.delete(clientId);
    }
  }

  /** The session ended (or the delay passed): a pending will goes out now. */
  async fireWill(clientId: string): Promise<void> {
    const w = this.wills.get(clientId);
    if (!w) return;
    w.timer.cancel();
    this.wills.delete(clientId);
    await w.fire();
  }

  // ---- session end ----------------------------------------------------------------------------

  /** Ends a session: its queue, record, in-flight state and shared memberships go; a pending will is sent. */
  async endSession(clientId: string, sharedQueues: string[] = []): Promise<void> {
    this.cancelExpiry(clientId);
    const rec = this.ctx.store.get(clientId);
    await this.deleteSession(clientId, rec, sharedQueues);
    await this.fireWill(clientId);
  }

  private async deleteSession(clientId: string, rec: SessionRecord | undefined, sharedQueues: string[] = []): Promise<void> {
    const queues = new Set([...sharedQueues, ...(rec ? sharedQueuesOf(rec) : [])]);
    for (const q of queues) await this.removeShared(q, clientId);
    await this.ctx.broker.deleteQueue(sessionQueueName(clientId));
    await this.ctx.store.delete(clientId);
  }

  // ---- shared subscriptions -------------------------------------------------------------------

  addShared(queue: string, clientId: string): void {
    let s = this.sharedMembers.get(queue);
    if (!s) this.sharedMembers.set(queue, (s = new Set()));
    s.add(clientId);
  }

  /** Leaves a shared queue; the last member to leave deletes it. */
  async removeShared(queue: string, clientId: string): Promise<void> {
    const s = this.sharedMembers.get(queue);
    if (s) {
      s.delete(clientId);
      if (s.size > 0) return;
      this.sharedMembers.delete(queue);
    }
    // In a cluster, sessions of other nodes may still belong to the group.
    if (this.cluster && this.ctx.store.clientIds().some((id) => id !== clientId && sharedQueuesOf(this.ctx.store.get(id)).includes(queue))) return;
    await this.ctx.broker.deleteQueue(queue);
  }

  /** Stops every timer (adapter stop). Pending wills are dropped; sessions stay in the core. */
  close(): void {
    this.closed = true;
    this.cluster?.stop();
    for (const t of this.expiryTimers.values()) t.cancel();
    this.expiryTimers.clear();
    for (const w of this.wills.values()) w.timer.cancel();
    this.wills.clear();
  }
}

function sharedQueuesOf(rec: SessionRecord | undefined): string[] {
  const out: string[] = [];
  if (!rec) return out;
  for (const filter of Object.keys(rec.subs)) {
    const p = parseFilter(filter);
    if (typeof p !== 'string' && p.group !== undefined) out.push(sharedQueueName(p.group, p.pattern));
  }
  return out;
}
