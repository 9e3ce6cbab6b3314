/**
 * Kafka's view of a Junction cluster (core/cluster.ts): which node leads a partition and which
 * coordinates a group. A request that reaches the wrong node gets Kafka's own answer
 * (NOT_LEADER_OR_FOLLOWER, NOT_COORDINATOR), after which clients refresh their metadata.
 * On a single node every check passes.
 */
import type { NodeInfo } from '../../core/cluster.js';
import type { Stream } from '../../core/stream/stream.js';
import type { RequestContext } from './context.js';
import { ErrorCode } from './protocol/errors.js';

/** NONE when this node leads the partition. */
export function leaderError(ctx: RequestContext, stream: Stream, partition: number): ErrorCode {
  const cluster = ctx.services.broker.cluster;
  if (!cluster.clustered) return ErrorCode.NONE;
  const { leader } = cluster.placement(stream.name, partition, stream.config.replicationFactor);
  if (leader === cluster.nodeId) return ErrorCode.NONE;
  return leader < 0 ? ErrorCode.LEADER_NOT_AVAILABLE : ErrorCode.NOT_LEADER_OR_FOLLOWER;
}

/** True when another node coordinates `groupId`. */
export function notCoordinator(ctx: RequestContext, groupId: string): boolean {
  const cluster = ctx.services.broker.cluster;
  return cluster.clustered && cluster.coordinator(groupId) !== cluster.nodeId;
}

/** Where a client reaches a node's Kafka listener; a node bound to all interfaces is reached as this one was. */
export function kafkaEndpoint(ctx: RequestContext, node: NodeInfo): { host: string; port: number } {
  const cluster = ctx.services.broker.cluster;
  if (!cluster.clustered || node.id === cluster.nodeId) return ctx.conn.advertised;
  const e = node.endpoints.kafka;
  return e ? { host: e.host || ctx.conn.advertised.host, port: e.port } : { host: ctx.conn.advertised.host, port: -1 };
}

/** The brokers of a Metadata response: every live node with a Kafka listener. */
export function brokerEntries(ctx: RequestContext): Array<{ nodeId: number; host: string; port: number; rack: null }> {
  const cluster = ctx.services.broker.cluster;
  if (!cluster.clustered) return [{ nodeId: ctx.services.settings.nodeId, ...ctx.conn.advertised, rack: null }];
  return cluster.nodes().filter((n) => n.id === cluster.nodeId || n.endpoints.kafka).map((n) => ({ nodeId: n.id, ...kafkaEndpoint(ctx, n), rack: null }));
}
