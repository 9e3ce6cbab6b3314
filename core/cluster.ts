/**
 * The cluster seam: what the core and the adapters need to know about the other nodes, whatever
 * engine (if any) connects them. A single process is a cluster of one (`SingleNode`); the NATS
 * JetStream backend (plugins/cluster) implements the same view for N nodes.
 *
 * Every stream partition has one leader node: only it appends and serves reads, so offsets stay
 * dense. Clients of other nodes are told who leads (Kafka: NOT_LEADER_OR_FOLLOWER, then Metadata).
 */
import type { Message } from './message.js';
import type { Queue, RemovalReason } from './queue.js';
import type { QueueEntry, QueueOptions } from './queue-types.js';

/** A listener a node offers to clients: Kafka clients are sent to another node's `kafka` endpoint. */
export interface NodeEndpoint {
  host: string;
  port: number;
}

export interface NodeInfo {
  id: number;
  /** By listener name: `kafka`, `mqtt`, `http`, ... */
  endpoints: Record<string, NodeEndpoint>;
  startedAt: number;
}

export interface PartitionPlacement {
  /** Node that leads the partition, -1 while none does (failover under way). */
  leader: number;
  /** Increases at every change of leader (Kafka leader epoch). */
  epoch: number;
  /** Nodes reported as holding copies (Kafka replicas) and those in sync (ISR). */
  replicas: number[];
  isr: number[];
}

/** How a message crosses to the other nodes (the cluster backend provides it). */
export interface PeerLink {
  /** Hands a routed message to every other node; resolves once they are sure to get it (durable: stored). */
  fanout(message: Message): Promise<void>;
  /**
   * Puts a message into a queue that only another node has (a temporary reply queue of a client
   * connected there); resolves false when no node has it.
   */
  sendToQueue(queue: string, message: Message): Promise<boolean>;
  /**
   * The topic patterns this node's own queues (not shared ones) are bound to, so that other nodes
   * fan out to it only what it wants. Resolves once the other nodes can know (stored).
   */
  advertiseInterest(patterns: string[]): Promise<void>;
  /** True when another live node has a queue of its own bound to a pattern matching `topic`. */
  wanted(topic: string): boolean;
  /** Appends a batch on the partition's leader node; resolves once stored there. */
  appendOnLeader(leader: number, stream: string, partition: number, batch: Buffer): Promise<void>;
}

/**
 * Queues every node sees (the cluster backend provides them): each shared queue has one owner node
 * that holds its messages and their delivery state. A message for it is journaled by whichever
 * node received it (the owner then enqueues it); consumers on other nodes get their deliveries
 * forwarded by the owner, and their settlements go back to it. Every node keeps a Queue object
 * per shared queue: on the owner it is the queue, elsewhere a buffer of forwarded deliveries.
 */
export interface SharedQueues {
  /** Whether a queue declared with these options is shared (otherwise it stays on its node). */
  shares(options: QueueOptions): boolean;
  /** Journals `message` into shared queue `queue`; resolves once stored. */
  append(queue: string, message: Message): Promise<void>;
  /** An entry left a shared queue here (acked, expired, dead-lettered...): journal it, or tell the owner. */
  removed(queue: Queue, entry: QueueEntry, reason: RemovalReason): Promise<void>;
  /** True when this node holds the queue's messages. */
  owns(queue: string): boolean;
  /** The queue's owner node as this node knows it (undefined: none yet). */
  ownerOf(queue: string): number | undefined;
  /** A shared queue appeared (declared here or elsewhere, or recovered), went away, or its local consumers changed. */
  declared(queue: Queue): void;
  deleted(queue: Queue): Promise<void>;
  consumersChanged(queue: Queue): void;
}

export interface ClusterView {
  readonly nodeId: number;
  /** False for the single-process broker. */
  readonly clustered: boolean;
  /** Live nodes, this one included, by id. */
  nodes(): NodeInfo[];
  /** Who leads a stream partition (`replicationFactor` copies are kept). */
  placement(stream: string, partition: number, replicationFactor: number): PartitionPlacement;
  /** The node that coordinates a key (a Kafka consumer group). */
  coordinator(key: string): number;
  /** The most copies a stream may ask for. */
  readonly maxReplicationFactor: number;
  /** Set by a clustered view. */
  readonly peers?: PeerLink;
  readonly sharedQueues?: SharedQueues;
}

/** An append or read reached a node that does not (or no longer) lead the partition. */
export class NotLeaderError extends Error {
  override readonly name = 'NotLeaderError';
}

/** The single-process broker: this node leads everything. */
export class SingleNode implements ClusterView {
  readonly clustered = false;
  readonly maxReplicationFactor = 1;
  private readonly startedAt = Date.now();
  endpoints: Record<string, NodeEndpoint> = {};

  constructor(readonly nodeId = 0) {}

  nodes(): NodeInfo[] {
    return [{ id: this.nodeId, endpoints: this.endpoints, startedAt: this.startedAt }];
  }

  placement(): PartitionPlacement {
    return { leader: this.nodeId, epoch: 0, replicas: [this.nodeId], isr: [this.nodeId] };
  }

  coordinator(): number {
    return this.nodeId;
  }
}
