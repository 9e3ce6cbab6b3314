/**
 * Where a user is online in a cluster: one shared metadata record per (bare JID, node), namespace
 * `xmpp-presence`, key `<bare>\0<node id>`, holding that node's available resources with their
 * priority and last broadcast presence. Each node writes only its own records, so two nodes never
 * race on a key. The other nodes learn every change through the metadata watch: that change is
 * how a presence broadcast reaches contacts connected elsewhere (see cluster-link.ts).
 *
 * A node's records go when the node does: a restarted node deletes its own leftovers at start,
 * and the live node with the lowest id deletes the records of nodes that left the membership.
 * Not used on a single node (nothing is written).
 */
import type { Logger } from '../../core/adapter.js';
import type { Broker } from '../../core/broker.js';

export const NS_PRESENCE = 'xmpp-presence';

export interface ResourceState {
  /** Priority (-128..127). */
  p: number;
  /** The resource's last broadcast presence (from = its full JID, no to). */
  x: string;
}

export interface PresenceRecord {
  r: Record<string, ResourceState>;
}

export interface RemoteResource {
  node: number;
  full: string;
  priority: number;
  presence: string;
}

export type PresenceListener = (bare: string, node: number, before: PresenceRecord | undefined, after: PresenceRecord | undefined) => void;

const SWEEP_MS = 1000;
/** Sweeps even when the membership looks unchanged, every this many ticks (a missed deletion). */
const FULL_SWEEP_EVERY = 30;

function recordKey(bare: string, node: number): string {
  return `${bare}\u0000${node}`;
}

function parseKey(key: string): { bare: string; node: number } | null {
  const i = key.lastIndexOf('\u0000');
  if (i < 0) return null;
  const node = Number(key.slice(i + 1));
  return Number.isInteger(node) ? { bare: key.slice(0, i), node } : null;
}

function parseRecord(value: Buffer | undefined): PresenceRecord | undefined {
  if (!value) return undefined;
  try {
    const r = JSON.parse(value.toString('utf8')) as PresenceRecord;
    return r && typeof r.r === 'object' && r.r !== null ? r : undefined;
  } catch {
    return undefined;
  }
}

export class PresenceDirectory {
  /** Other nodes' records as last seen, for lookups and for diffs on change. */
  private readonly seen = new Map<string, PresenceRecord>();
  /** What this node last wrote, per bare JID (JSON), to skip writes that change nothing. */
  private readonly written = new Map<string, string>();
  private timer?: NodeJS.Timeout;
  private lastLive = '';
  private ticks = 0;
  /** This node's own records from before a restart that could not be deleted at start. */
  private leftovers: string[] = [];

  constructor(
    private readonly broker: Broker,
    private readonly onChange: PresenceListener,
    private readonly log: Logger,
  ) {}

  private get self(): number {
    return this.broker.cluster.nodeId;
  }

  async start(): Promise<void> {
    const md = this.broker.metadata;
    const stale: string[] = [];
    for (const [key, value] of md.entries(NS_PRESENCE)) {
      const k = parseKey(key);
      if (!k) continue;
      if (k.node === this.self) stale.push(key);
      else {
        const rec = parseRecord(value);
        if (rec) this.seen.set(key, rec);
      }
    }
    // Left by this node before a restart: its sessions are gone. Not fatal: the sweep of the
    // lowest node does not remove them while this node lives, so they are retried below.
    try {
      if (stale.length) await md.batch(stale.map((key) => ({ ns: NS_PRESENCE, key, value: undefined })));
    } catch (e) {
      this.log.warn({ records: stale.length, err: String(e) }, 'xmpp: presence records left from before a restart not removed yet');
      this.leftovers = stale;
    }
    md.onRemoteChange(NS_PRESENCE, (key, value) => this.remoteChange(key, value));
    this.timer = setInterval(() => void this.sweep().catch((e) => this.log.debug({ err: String(e) }, 'xmpp: presence sweep failed')), SWEEP_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Writes this node's record for `bare` (deletes it when `resources` is empty). */
  publish(bare: string, resources: Record<string, ResourceState>): Promise<void> {
    const json = Object.keys(resources).length ? JSON.stringify({ r: resources } satisfies PresenceRecord) : '';
    if ((this.written.get(bare) ?? '') === json) return Promise.resolve();
    const key = recordKey(bare, this.self);
    if (json) this.written.set(bare, json);
    else this.written.delete(bare);
    const done = json ? this.broker.metadata.put(NS_PRESENCE, key, Buffer.from(json, 'utf8')) : this.broker.metadata.delete(NS_PRESENCE, key);
    return done.catch((e) => this.log.warn({ bare, err: String(e) }, 'xmpp: presence record not written'));
  }

  /** Available resources of `bare` on the other live nodes. */
  resources(bare: string): RemoteResource[] {
    const out: RemoteResource[] = [];
    for (const n of this.broker.cluster.nodes()) {
      if (n.id === this.self) continue;
      const rec = this.seen.get(recordKey(bare, n.id));
      if (!rec) continue;
      for (const [res, st] of Object.entries(rec.r)) out.push({ node: n.id, full: `${bare}/${res}`, priority: st.p, presence: st.x });
    }
    return out;
  }

  /** Other live nodes where `bare` has an available resource with at least this priority. */
  nodesOf(bare: string, minPriority = -128): number[] {
    const out: number[] = [];
    for (const n of this.broker.cluster.nodes()) {
      if (n.id === this.self) continue;
      const rec = this.seen.get(recordKey(bare, n.id));
      if (rec && Object.values(rec.r).some((st) => st.p >= minPriority)) out.push(n.id);
    }
    return out;
  }

  /** The other live node where this full JID is available, if any. */
  nodeOf(bare: string, resource: string): number | undefined {
    for (const n of this.broker.cluster.nodes()) {
      if (n.id !== this.self && this.seen.get(recordKey(bare, n.id))?.r[resource]) return n.id;
    }
    return undefined;
  }

  private remoteChange(key: string, value: Buffer | undefined): void {
    const k = parseKey(key);
    if (!k) return;
    if (k.node === this.self) {
      // Deleted by a node that thought this one dead: the hub writes it again if still true.
      this.written.delete(k.bare);
      this.onChange(k.bare, k.node, undefined, undefined);
      return;
    }
    const before = this.seen.get(key);
    const after = parseRecord(value);
    if (after) this.seen.set(key, after);
    else this.seen.delete(key);
    this.onChange(k.bare, k.node, before, after);
  }

  /** The lowest live node deletes the records of nodes that are gone (and tells its own contacts). */
  private async sweep(): Promise<void> {
    if (this.leftovers.length) {
      const keys = this.leftovers.filter((k) => !this.written.has(parseKey(k)!.bare));
      this.leftovers = [];
      await this.broker.metadata.batch(keys.map((key) => ({ ns: NS_PRESENCE, key, value: undefined }))).catch((e) => {
        this.leftovers = keys;
        throw e;
      });
    }
    const live = new Set(this.broker.cluster.nodes().map((n) => n.id));
    const liveKey = [...live].sort((a, b) => a - b).join(',');
    const changed = liveKey !== this.lastLive;
    this.lastLive = liveKey;
    if (!changed && ++this.ticks % FULL_SWEEP_EVERY !== 0) return;
    if (live.size === 0 || Math.min(...live) !== this.self) return;
    const gone: Array<{ key: string; bare: string; node: number }> = [];
    for (const key of this.broker.metadata.entries(NS_PRESENCE).keys()) {
      const k = parseKey(key);
      if (k && !live.has(k.node)) gone.push({ key, ...k });
    }
    if (gone.length === 0) return;
    this.log.info({ records: gone.length }, 'xmpp: removing presence of nodes that left the cluster');
    for (const g of gone) {
      const before = this.seen.get(g.key);
      this.seen.delete(g.key);
      await this.broker.metadata.delete(NS_PRESENCE, g.key);
      this.onChange(g.bare, g.node, before, undefined);
    }
  }
}
