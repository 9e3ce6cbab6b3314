/**
 * CreateTopics: Kafka's rules: legal names, partitions > 0 (-1 = default), replication factor up
 * to what the cluster keeps (1 on a single node, up to the JetStream servers in a cluster; -1 =
 * the default), explicit assignments only onto this node when alone, topic configs validated
 * (cleanup.policy=delete only), validate_only.
 */
import { allowed, principalOf, type Handler, type RequestContext } from '../context.js';
import { ErrorCode } from '../protocol/errors.js';
import type { Struct } from '../protocol/schema.js';
import { TopicError } from '../topics.js';

interface CreatableTopic {
  name: string;
  numPartitions: number;
  replicationFactor: number;
  assignments: Array<{ partitionIndex: number; brokerIds: number[] }>;
  configs: Array<{ name: string; value: string | null }>;
}

async function createOne(ctx: RequestContext, t: CreatableTopic, validateOnly: boolean): Promise<Struct> {
  const { topics, settings } = ctx.services;
  const base = { name: t.name, topicId: Buffer.alloc(16), errorMessage: null as string | null, topicConfigErrorCode: 0, numPartitions: -1, replicationFactor: -1, configs: [] as Struct[] };
  const fail = (errorCode: ErrorCode, message: string) => ({ ...base, errorCode, errorMessage: message });
  if (!allowed(ctx, 'admin', t.name)) return fail(ErrorCode.TOPIC_AUTHORIZATION_FAILED, 'not authorised to create topics');
  let partitions = t.numPartitions;
  const cluster = ctx.services.broker.cluster;
  let replicationFactor = t.replicationFactor === -1 ? ctx.services.topics.defaultReplicationFactor() : t.replicationFactor;
  if (t.assignments.length > 0) {
    if (t.numPartitions !== -1 || t.replicationFactor !== -1) {
      return fail(ErrorCode.INVALID_REQUEST, 'both numPartitions or replicationFactor and replicasAssignments were set');
    }
    const indexes = t.assignments.map((a) => a.partitionIndex).sort((a, b) => a - b);
    if (indexes.some((p, i) => p !== i)) return fail(ErrorCode.INVALID_REPLICA_ASSIGNMENT, 'partitions must be numbered 0..n-1');
    const live = new Set(cluster.nodes().map((n) => n.id));
    if (t.assignments.some((a) => a.brokerIds.length === 0 || a.brokerIds.some((b) => !live.has(b)))) {
      return fail(ErrorCode.INVALID_REPLICA_ASSIGNMENT, `assignments may only name live brokers (${[...live].join(', ')})`);
    }
    replicationFactor = Math.max(...t.assignments.map((a) => a.brokerIds.length));
    partitions = t.assignments.length;
  } else {
    if (t.numPartitions === -1) partitions = settings.defaultPartitions;
    else if (t.numPartitions <= 0) return fail(ErrorCode.INVALID_PARTITIONS, 'number of partitions must be larger than 0');
    if (t.replicationFactor === 0 || t.replicationFactor < -1) return fail(ErrorCode.INVALID_REPLICATION_FACTOR, 'replication factor must be larger than 0');
  }
  if (replicationFactor > cluster.maxReplicationFactor) {
    return fail(ErrorCode.INVALID_REPLICATION_FACTOR, `replication factor: ${replicationFactor} larger than available brokers: ${cluster.maxReplicationFactor}`);
  }
  const names = new Set<string>();
  for (const c of t.configs) {
    if (names.has(c.name)) return fail(ErrorCode.INVALID_REQUEST, `duplicate config ${c.name}`);
    names.add(c.name);
  }
  try {
    const stream = await topics.create(t.name, partitions, t.configs, validateOnly, replicationFactor, principalOf(ctx).user);
    const describeStream = stream ?? undefined;
    return {
      ...base,
      errorCode: ErrorCode.NONE,
      topicId: stream ? await topics.topicId(t.name) : base.topicId,
      numPartitions: partitions,
      replicationFactor,
      configs: describeStream ? topics.describe(describeStream).map((c) => ({
        name: c.name, value: c.value, readOnly: c.readOnly, configSource: c.isDefault ? 5 : 1, isSensitive: false,
      })) : [],
    };
  } catch (err) {
    if (err instanceof TopicError) return fail(err.code, err.message);
    throw err;
  }
}

export const handleCreateTopics: Handler = async (ctx, req) => {
  const seen = new Map<string, number>();
  for (const t of req.topics as CreatableTopic[]) seen.set(t.name, (seen.get(t.name) ?? 0) + 1);
  const out: Struct[] = [];
  for (const t of req.topics as CreatableTopic[]) {
    if (seen.get(t.name)! > 1) {
      out.push({ name: t.name, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: 'topic appears more than once in the request', numPartitions: -1, replicationFactor: -1, configs: [] });
      continue;
    }
    out.push(await createOne(ctx, t, req.validateOnly as boolean));
  }
  return { throttleTimeMs: 0, topics: out };
};
