/**
 * A Junction node of a cluster on NATS JetStream (docs/cluster.md): connects to the NATS servers,
 * provides the core's Store (ClusterStore) and ClusterView (this class), keeps the membership
 * heartbeat and the partition leadership going.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import type { ListenerInfo, Logger } from '../../core/adapter.js';
import type { Broker } from '../../core/broker.js';
import type { ClusterView, NodeEndpoint, NodeInfo, PartitionPlacement } from '../../core/cluster.js';
import type { Store } from '../../core/store.js';
import { ClusterStore } from './cluster-store.js';
import { Leadership, rankNodes } from './leadership.js';
import { Membership } from './membership.js';
import { NatsPeerLink } from './peer-link.js';
import { Interest } from './interest.js';
import { BUCKET_INTEREST, BUCKET_LEADERS, BUCKET_META, BUCKET_NODES, BUCKET_QUEUE_OWNERS } from './names.js';
import { NoRespondersWatch } from './resilient.js';
import { JetStreamSharedQueues } from './shared-queues.js';

export { NodeIdInUseError } from './membership.js';

export interface ClusterSettings {
  /** NATS server URLs (nats://host:port). */
  servers: string[];
  nodeId: number;
  heartbeatMs: number;
  /** A node unseen this long is dead and its partitions move. */
  nodeTimeoutMs: number;
  /** Up this long, a node leads again the partitions it is preferred for (0 = never). */
  rebalanceDelayMs?: number;
}

export class ClusterUnavailableError extends Error {
  override readonly name = 'ClusterUnavailableError';
}

/** How long a starting node keeps trying to set up its JetStream state, and the pause between tries. */
const JOIN_TIMEOUT_MS = 60_000;
const JOIN_RETRY_MS = 1000;

/**
 * Reads go to each bucket's stream leader (no direct get): a direct get may be answered by a
 * replica still catching up after a nats-server restart, and a claim that re-reads a record after
 * losing a compare-and-set must see the record that beat it, or it loses the same race forever.
 */
async function openBucket(nc: NatsConnection, name: string, replicas: number): Promise<KV> {
  return new Kvm(nc).create(name, { replicas, history: 1, allow_direct: false });
}

export class ClusterNode implements ClusterView {
  readonly clustered = true;
  readonly maxReplicationFactor: number;
  private leadership!: Leadership;
  private broker!: Broker;

  private constructor(
    private readonly nc: NatsConnection,
    readonly store: ClusterStore,
    private readonly membership: Membership,
    private readonly leaders: KV,
    readonly peers: NatsPeerLink,
    readonly sharedQueues: JetStreamSharedQueues,
    private readonly settings: ClusterSettings,
    private readonly log: Logger,
  ) {
    this.maxReplicationFactor = Math.min(5, Math.max(1, settings.servers.length));
  }

  /** Connects to the NATS servers and joins; throws ClusterUnavailableError with one line when they cannot be reached. */
  static async join(settings: ClusterSettings, local: Store, log: Logger): Promise<ClusterNode> {
    let nc: NatsConnection;
    try {
      nc = await connect({
        servers: settings.servers, name: `junction-node-${settings.nodeId}`, timeout: 5000,
        maxReconnectAttempts: -1, reconnectTimeWait: 500, waitOnFirstConnect: false,
      });
    } catch (err) {
      throw new ClusterUnavailableError(`cannot reach the NATS cluster at ${settings.servers.join(',')}: ${(err as Error).message}`);
    }
    // JetStream may be electing leaders (a nats-server just restarted): retried until JOIN_TIMEOUT_MS.
    for (const deadline = Date.now() + JOIN_TIMEOUT_MS; ;) {
      try {
        return await ClusterNode.setUp(nc, settings, local, log);
      } catch (err) {
        const final = err instanceof Error && (err.name === 'NodeIdInUseError' || err.name === 'JetStreamNotEnabled') || Date.now() >= deadline;
        if (!final) {
          log.warn({ err: (err as Error).message }, 'cluster: JetStream not usable yet (retrying)');
          await new Promise((r) => setTimeout(r, JOIN_RETRY_MS));
          continue;
        }
        await nc.close().catch(() => undefined);
        if (err instanceof Error && err.name === 'NodeIdInUseError') throw err;
        throw new ClusterUnavailableError(`NATS at ${settings.servers.join(',')} has no usable JetStream: ${(err as Error).message}`);
      }
    }
  }

  private static async setUp(nc: NatsConnection, settings: ClusterSettings, local: Store, log: Logger): Promise<ClusterNode> {
    const jsm = await jetstreamManager(nc, { timeout: 10_000 });
    const js = jetstream(nc, { timeout: 10_000 });
    const replicas = Math.min(3, settings.servers.length);
    const [meta, nodes, leaders, owners, interest] = await Promise.all(
      [BUCKET_META, BUCKET_NODES, BUCKET_LEADERS, BUCKET_QUEUE_OWNERS, BUCKET_INTEREST].map((b) => openBucket(nc, b, replicas)),
    );
    const membership = new Membership(nodes, settings.nodeId, settings.heartbeatMs, settings.nodeTimeoutMs, log);
    await membership.start();
    // A quarter of the node timeout: the others still count this node live after the switch.
    const noResponders = new NoRespondersWatch(nc, Math.max(250, settings.nodeTimeoutMs / 4), log);
    membership.onHeartbeat = (err) => noResponders.heartbeat(err);
    const store = new ClusterStore({ local, meta, js, jsm, nodeId: settings.nodeId, log });
    const peers = new NatsPeerLink(nc, js, jsm, settings.nodeId, replicas, new Interest(nc, interest, settings.nodeId, () => membership.liveIds(), log), log);
    const queues = new JetStreamSharedQueues(nc, js, jsm, owners, membership, replicas, log);
    return new ClusterNode(nc, store, membership, leaders, peers, queues, settings, log);
  }

  get nodeId(): number {
    return this.settings.nodeId;
  }

  /** Starts leading partitions once the broker has opened (its streams are known). */
  async start(broker: Broker): Promise<void> {
    this.broker = broker;
    const t0 = Date.now();
    this.log.info({ streams: [...broker.streams()].length }, 'cluster: streams opened; starting the fan-out, leadership and shared queues');
    await this.peers.start(broker);
    const fenced = (stream: string, p: number) => this.store.partitions.get(`${stream}\u0000${p}`)?.isFenced ?? false;
    this.leadership = new Leadership(this.leaders, this.membership, () => this.broker, fenced, this.log, this.settings.rebalanceDelayMs ?? 0);
    const interval = Math.max(250, Math.floor(this.settings.heartbeatMs / 2));
    await this.leadership.start(interval);
    // Claims run in the background (each bounded): a node opens its listeners without waiting for
    // partitions and queues to be taken over or replayed; clients meanwhile get NOT_LEADER or wait.
    void this.leadership.reconcile();
    await this.sharedQueues.start(broker, interval);
    this.log.info({ ms: Date.now() - t0 }, 'cluster: node started');
  }

  /** Publishes this node's listeners (`kafka` at its advertised address) to the other nodes. */
  advertise(listeners: ListenerInfo[], kafka: { host: string | null; port: number | null }): Promise<void> {
    const endpoints: Record<string, NodeEndpoint> = {};
    for (const l of listeners) {
      endpoints[l.name] ??= { host: l.host === '' || l.host === '::' || l.host === '0.0.0.0' ? '' : l.host, port: l.port };
    }
    if (endpoints.kafka) endpoints.kafka = { host: kafka.host ?? endpoints.kafka.host, port: kafka.port ?? endpoints.kafka.port };
    return this.membership.advertise(endpoints);
  }

  nodes(): NodeInfo[] {
    return this.membership.live();
  }

  placement(stream: string, partition: number, replicationFactor: number): PartitionPlacement {
    return this.leadership.placement(stream, partition, replicationFactor);
  }

  coordinator(key: string): number {
    return rankNodes(`group\u0000${key}`, this.membership.liveIds())[0] ?? this.nodeId;
  }

  /** Per node: partitions led and shared queues owned (admin API). */
  describe(): Array<NodeInfo & { leaderOf: number; queuesOwned: number; self: boolean }> {
    const counts = this.leadership?.leaders() ?? new Map<number, number>();
    const owned = this.sharedQueues.ownerCounts();
    return this.nodes().map((n) => ({ ...n, leaderOf: counts.get(n.id) ?? 0, queuesOwned: owned.get(n.id) ?? 0, self: n.id === this.nodeId }));
  }

  /** Leaves the cluster: the membership record goes at once so other nodes take over without waiting. */
  async leave(): Promise<void> {
    this.leadership?.stop();
    this.sharedQueues.stop();
    await this.peers.stop();
    await this.membership.stop();
  }

  async close(): Promise<void> {
    await this.nc.drain().catch(() => undefined);
  }
}
