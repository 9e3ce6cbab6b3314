/** Heartbeat: keeps a member's session alive and tells it when a rebalance is under way. */
import { notCoordinator } from '../cluster-routing.js';
import type { Handler } from '../context.js';
import { ErrorCode } from '../protocol/errors.js';

export const handleHeartbeat: Handler = (ctx, req) => {
  if (notCoordinator(ctx, req.groupId as string)) return { throttleTimeMs: 0, errorCode: ErrorCode.NOT_COORDINATOR };
  const group = ctx.services.groups.get(req.groupId as string);
  const errorCode = group ? group.heartbeat(req.memberId as string, req.generationId as number) : ErrorCode.UNKNOWN_MEMBER_ID;
  return { throttleTimeMs: 0, errorCode };
};
