/** SyncGroup: followers wait for the leader's assignment; everyone gets their own part. */
import { notCoordinator } from '../cluster-routing.js';
import type { Handler } from '../context.js';
import { ErrorCode } from '../protocol/errors.js';

export const handleSyncGroup: Handler = async (ctx, req) => {
  const group = ctx.services.groups.get(req.groupId as string);
  const refused = notCoordinator(ctx, req.groupId as string) ? ErrorCode.NOT_COORDINATOR : !group ? ErrorCode.UNKNOWN_MEMBER_ID : null;
  if (refused !== null || !group) return { throttleTimeMs: 0, errorCode: refused ?? ErrorCode.UNKNOWN_MEMBER_ID, protocolType: null, protocolName: null, assignment: Buffer.alloc(0) };
  const r = await group.sync(
    req.memberId as string, req.generationId as number,
    req.assignments as Array<{ memberId: string; assignment: Buffer }>,
    req.protocolType as string | null, req.protocolName as string | null,
  );
  return { throttleTimeMs: 0, ...r };
};
