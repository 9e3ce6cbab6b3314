/**
 * OffsetFetch: committed offsets from the core; -1 (and no error) where none was committed. In a
 * cluster the commits other nodes acknowledged are waited for first (a group whose coordinator
 * moved finds every offset committed before); when that cannot be told, COORDINATOR_NOT_AVAILABLE
 * makes the client ask again.
 */
import type { Handler, RequestContext } from '../context.js';
import { ErrorCode } from '../protocol/errors.js';

interface TopicQuery { name: string; partitionIndexes: number[] }

function fetchGroup(ctx: RequestContext, groupId: string, query: TopicQuery[] | null, synced: boolean) {
  const { broker } = ctx.services;
  let wanted = query;
  if (!synced) wanted ??= [];
  if (wanted === null) {
    // Every committed partition of the group (v2+ null topics).
    const byTopic = new Map<string, number[]>();
    for (const o of broker.offsets.list(groupId)) {
      let list = byTopic.get(o.stream);
      if (!list) byTopic.set(o.stream, (list = []));
      list.push(o.partition);
    }
    wanted = [...byTopic].map(([name, partitionIndexes]) => ({ name, partitionIndexes: partitionIndexes.sort((a, b) => a - b) }));
  }
  return wanted.map((t) => ({
    name: t.name,
    partitions: t.partitionIndexes.map((partitionIndex) => {
      const c = synced ? broker.offsets.fetch(groupId, t.name, partitionIndex) : undefined;
      return {
        partitionIndex,
        committedOffset: c?.offset ?? -1,
        committedLeaderEpoch: c?.leaderEpoch ?? -1,
        metadata: c ? c.metadata : '',
        errorCode: synced ? ErrorCode.NONE : ErrorCode.COORDINATOR_NOT_AVAILABLE,
      };
    }),
  }));
}

export const handleOffsetFetch: Handler = async (ctx, req) => {
  const synced = await ctx.services.broker.metadata.sync().then(() => true, (err: Error) => {
    ctx.services.log.warn({ err: err.message }, 'kafka: committed offsets not read (cluster metadata not in sync)');
    return false;
  });
  const errorCode = synced ? ErrorCode.NONE : ErrorCode.COORDINATOR_NOT_AVAILABLE;
  if (ctx.apiVersion >= 8) {
    const groups = (req.groups as Array<{ groupId: string; topics: TopicQuery[] | null }>).map((g) => ({
      groupId: g.groupId,
      topics: fetchGroup(ctx, g.groupId, g.topics, synced),
      errorCode,
    }));
    return { throttleTimeMs: 0, groups };
  }
  const topics = req.topics as TopicQuery[] | null;
  return { throttleTimeMs: 0, topics: fetchGroup(ctx, req.groupId as string, ctx.apiVersion >= 2 ? topics : topics ?? [], synced), errorCode };
};
