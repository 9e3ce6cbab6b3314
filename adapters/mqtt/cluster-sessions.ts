/**
 * Persistent sessions in a cluster. Session records and QoS 2 state are metadata every node shares,
 * and a session's queue is a shared queue, so a client may come back on any node. Each record names
 * the node that manages the session (`node`): the one its client is connected to, or was last. That
 * node runs its expiry timer and its delayed will. Three things follow:
 *
 * - **takeover**: when the client connects on another node, that node writes the record with
 *   itself as manager; this node sees the change and closes its connection for the client id
 *   (MQTT 5: DISCONNECT 0x8E) without writing the record back;
 * - **a node that died**: the live node that rendezvous hashing ranks first for the client id adopts
 *   its sessions (checked every ADOPT_INTERVAL_MS): a session whose client was connected there
 *   counts as disconnected from then on, and its expiry runs on the adopter; so do the wills the
 *   dead node held (cluster-wills.ts), published after their delay;
 * - **a late write**: a disconnect written by another node after the client already came back here
 *   is overwritten by this node's connected record again.
 */
import { ClusterWills, NS_WILL } from './cluster-wills.js';
import type { MqttContext } from './context.js';
import { NS_SESSION, type SessionRecord } from './session-store.js';
import type { SessionManager } from './sessions.js';

const ADOPT_INTERVAL_MS = 1000;
/** Without a membership change, the records are scanned again this rarely (a record written late). */
const RESCAN_MS = 30_000;

export class ClusterSessions {
  readonly wills: ClusterWills;
  private timer?: NodeJS.Timeout;
  /** Live nodes at the last scan, and when it ran: a scan reads every session record. */
  private scanned = '';
  private scannedAt = 0;

  constructor(private readonly ctx: MqttContext, private readonly sessions: SessionManager) {
    this.wills = new ClusterWills(ctx);
  }

  private get self(): number {
    return this.ctx.broker.cluster.nodeId;
  }

  /** True when this node manages the session (it is, or was last, its client's node). */
  manages(rec: SessionRecord): boolean {
    return rec.node === undefined || rec.node === this.self;
  }

  start(): void {
    this.ctx.broker.metadata.onRemoteChange(NS_SESSION, (clientId, value) => this.changed(clientId, value));
    // A will this node adopted: the client came back elsewhere (that node wrote or deleted the record).
    this.ctx.broker.metadata.onRemoteChange(NS_WILL, (clientId) => {
      if (!this.sessions.connections.has(clientId)) this.sessions.cancelWill(clientId);
    });
    this.timer = setInterval(() => void this.adoptOrphans().catch((err: Error) => this.ctx.log.warn({ err: err.message }, 'mqtt: adopting sessions of a node that left failed (retried)')), ADOPT_INTERVAL_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private changed(clientId: string, value: Buffer | undefined): void {
    let rec: SessionRecord | undefined;
    try {
      rec = value ? (JSON.parse(value.toString('utf8')) as SessionRecord) : undefined;
    } catch {
      rec = undefined;
    }
    if (rec && this.manages(rec)) return;
    const conn = this.sessions.connections.get(clientId);
    if (conn && rec && rec.disconnectedAt !== null) {
      // Another node recorded an older disconnect; the client is here now.
      void this.sessions.withLock(clientId, () => conn.session?.persist() ?? Promise.resolve());
      return;
    }
    // The session moved to another node, or ended there: its timers go, and so does its connection here.
    this.sessions.cancelExpiry(clientId);
    this.sessions.cancelWill(clientId);
    if (conn) {
      void this.sessions.withLock(clientId, () => conn.takenOverElsewhere())
        .catch((err: unknown) => this.ctx.log.warn({ err, clientId }, 'mqtt: takeover by another node failed'));
    }
  }

  /** Sessions managed by nodes that are gone: the first-ranked live node adopts them. */
  private async adoptOrphans(): Promise<void> {
    const { broker, store, log } = this.ctx;
    const live = new Set(broker.cluster.nodes().map((n) => n.id));
    const signature = [...live].sort((a, b) => a - b).join(',');
    if (signature === this.scanned && Date.now() - this.scannedAt < RESCAN_MS) return;
    this.scanned = signature;
    this.scannedAt = Date.now();
    let adopted = 0;
    for (const clientId of store.clientIds()) {
      const rec = store.get(clientId);
      if (!rec || rec.node === undefined || live.has(rec.node)) continue;
      if (broker.cluster.coordinator(`mqtt-session\u0000${clientId}`) !== this.self) continue;
      await this.sessions.withLock(clientId, async () => {
        const now = store.get(clientId);
        if (!now || now.node === undefined || live.has(now.node) || this.sessions.connections.has(clientId)) return;
        const disconnectedAt = now.disconnectedAt ?? Date.now();
        await store.put(clientId, { ...now, node: this.self, disconnectedAt });
        this.sessions.scheduleExpiry(clientId, now.expiry, disconnectedAt);
        adopted++;
      });
    }
    if (adopted > 0) log.info({ sessions: adopted }, 'mqtt: sessions of a node that left adopted');
    const wills = this.wills.adoptOrphans(live);
    if (wills > 0) log.info({ wills }, 'mqtt: wills of a node that left adopted');
  }
}
