/** LeaveGroup: one member (v0-2) or a batch of members (v3+) leave; the group rebalances. */
import { notCoordinator } from '../cluster-routing.js';
import type { Handler } from '../context.js';
import { ErrorCode } from '../protocol/errors.js';

export const handleLeaveGroup: Handler = (ctx, req) => {
  if (notCoordinator(ctx, req.groupId as string)) return { throttleTimeMs: 0, errorCode: ErrorCode.NOT_COORDINATOR, members: [] };
  const group = ctx.services.groups.get(req.groupId as string);
  if (ctx.apiVersion < 3) {
    const errorCode = group ? group.leave(req.memberId as string) : ErrorCode.UNKNOWN_MEMBER_ID;
    return { throttleTimeMs: 0, errorCode, members: [] };
  }
  const members = (req.members as Array<{ memberId: string; groupInstanceId: string | null }>).map((m) => ({
    memberId: m.memberId,
    groupInstanceId: m.groupInstanceId,
    errorCode: group ? group.leave(m.memberId, m.groupInstanceId) : ErrorCode.UNKNOWN_MEMBER_ID,
  }));
  return { throttleTimeMs: 0, errorCode: group ? ErrorCode.NONE : ErrorCode.UNKNOWN_MEMBER_ID, members };
};
