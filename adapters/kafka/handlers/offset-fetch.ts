/** OffsetFetch: committed offsets from the core; -1 (and no error) where none was committed. */
import type { Handler, RequestContext } from '../context.js';
import { ErrorCode } from '../protocol/errors.js';

interface TopicQuery { name: string; partitionIndexes: number[] }

function fetchGroup(ctx: RequestContext, groupId: string, query: TopicQuery[] | null) {
  const { broker } = ctx.services;
  let wanted = query;
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
      const c = broker.offsets.fetch(groupId, t.name, partitionIndex);
      return {
        partitionIndex,
        committedOffset: c?.offset ?? -1,
        committedLeaderEpoch: c?.leaderEpoch ?? -1,
        metadata: c ? c.metadata : '',
        errorCode: ErrorCode.NONE,
      };
    }),
  }));
}

export const handleOffsetFetch: Handler = (ctx, req) => {
  if (ctx.apiVersion >= 8) {
    const groups = (req.groups as Array<{ groupId: string; topics: TopicQuery[] | null }>).map((g) => ({
      groupId: g.groupId,
      topics: fetchGroup(ctx, g.groupId, g.topics),
      errorCode: ErrorCode.NONE,
    }));
    return { throttleTimeMs: 0, groups };
  }
  const topics = req.topics as TopicQuery[] | null;
  return { throttleTimeMs: 0, topics: fetchGroup(ctx, req.groupId as string, ctx.apiVersion >= 2 ? topics : topics ?? []), errorCode: ErrorCode.NONE };
};
