/**
 * Metadata: every live node as a broker (one node alone when not clustered), each partition's
 * leader, replicas and ISR from the cluster view; topics asked
 * for are auto-created when the request and the configuration allow it (created synchronously,
 * returned ready with error 0, which every client accepts).
 */
import { allowed, principalOf, type Handler, type RequestContext } from '../context.js';
import { ErrorCode } from '../protocol/errors.js';
import type { Struct } from '../protocol/schema.js';
import { TopicError, topicNameProblem } from '../topics.js';
import { brokerEntries } from '../cluster-routing.js';
import type { Stream } from '../../../core/stream/stream.js';

/** Kafka AclOperation bits: READ 3, WRITE 4, CREATE 5, DELETE 6, ALTER 7, DESCRIBE 8, DESCRIBE_CONFIGS 10, ALTER_CONFIGS 11. */
export function topicOperations(ctx: RequestContext, topic: string): number {
  let ops = 0;
  if (allowed(ctx, 'subscribe', topic)) ops |= (1 << 3) | (1 << 8) | (1 << 10);
  if (allowed(ctx, 'publish', topic)) ops |= (1 << 4) | (1 << 8) | (1 << 10);
  if (allowed(ctx, 'admin', topic)) ops |= (1 << 5) | (1 << 6) | (1 << 7) | (1 << 8) | (1 << 10) | (1 << 11);
  return ops;
}

export function canDescribe(ctx: RequestContext, topic: string): boolean {
  return allowed(ctx, 'subscribe', topic) || allowed(ctx, 'publish', topic) || allowed(ctx, 'admin', topic);
}

export const handleMetadata: Handler = async (ctx, req) => {
  const { settings, topics } = ctx.services;
  const nodeId = settings.nodeId;
  const cluster = ctx.services.broker.cluster;
  const v = ctx.apiVersion;
  const requested = req.topics as Array<{ name: string | null; topicId: Buffer }> | null;
  const all = requested === null || (v === 0 && requested.length === 0);
  const withOps = Boolean(req.includeTopicAuthorizedOperations);

  const describe = async (name: string, stream: Stream | undefined, errorCode: ErrorCode): Promise<Struct> => ({
    errorCode,
    name,
    topicId: stream && v >= 10 ? await topics.topicId(name) : Buffer.alloc(16),
    isInternal: false,
    partitions: stream && errorCode === ErrorCode.NONE ? stream.partitions.map((_, i) => {
      const p = cluster.placement(name, i, stream.config.replicationFactor);
      return {
        errorCode: p.leader < 0 ? ErrorCode.LEADER_NOT_AVAILABLE : ErrorCode.NONE, partitionIndex: i, leaderId: p.leader, leaderEpoch: p.epoch,
        replicaNodes: p.replicas, isrNodes: p.isr, offlineReplicas: [],
      };
    }) : [],
    topicAuthorizedOperations: withOps ? topicOperations(ctx, name) : -2147483648,
  });

  const out: Struct[] = [];
  if (all) {
    for (const s of topics.all()) if (canDescribe(ctx, s.name)) out.push(await describe(s.name, s, ErrorCode.NONE));
  } else {
    for (const t of requested) {
      let name = t.name;
      if (name === null || name === '') {
        name = topics.nameOfId(t.topicId) ?? null;
        if (name === null) {
          out.push({ errorCode: ErrorCode.UNKNOWN_TOPIC_ID, name: null, topicId: t.topicId, isInternal: false, partitions: [], topicAuthorizedOperations: -2147483648 });
          continue;
        }
      }
      if (topicNameProblem(name)) {
        out.push(await describe(name, undefined, ErrorCode.INVALID_TOPIC_EXCEPTION));
        continue;
      }
      if (!canDescribe(ctx, name)) {
        out.push(await describe(name, undefined, ErrorCode.TOPIC_AUTHORIZATION_FAILED));
        continue;
      }
      const mayCreate = req.allowAutoTopicCreation !== false && (allowed(ctx, 'admin', name) || allowed(ctx, 'publish', name));
      let stream;
      try {
        stream = await topics.getOrCreate(name, mayCreate, 'metadata', principalOf(ctx).user);
      } catch (err) {
        if (!(err instanceof TopicError)) throw err;
        ctx.services.log.info({ conn: ctx.conn.id, topic: name, err: err.message }, 'kafka topic not auto-created');
        out.push(await describe(name, undefined, err.code));
        continue;
      }
      out.push(await describe(name, stream, stream ? ErrorCode.NONE : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION));
    }
  }
  return {
    throttleTimeMs: 0,
    brokers: brokerEntries(ctx),
    clusterId: settings.clusterId,
    controllerId: cluster.clustered ? Math.min(...cluster.nodes().map((n) => n.id)) : nodeId,
    topics: out,
    clusterAuthorizedOperations: -2147483648,
  };
};
