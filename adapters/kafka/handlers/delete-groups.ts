/** DeleteGroups: groups without members, with their committed offsets. */
import { notCoordinator } from '../cluster-routing.js';
import { allowed, type Handler } from '../context.js';
import { ErrorCode } from '../protocol/errors.js';

export const handleDeleteGroups: Handler = async (ctx, req) => {
  const results = [];
  for (const groupId of req.groupsNames as string[]) {
    const errorCode = !allowed(ctx, 'admin', groupId) ? ErrorCode.GROUP_AUTHORIZATION_FAILED
      : notCoordinator(ctx, groupId) ? ErrorCode.NOT_COORDINATOR : await ctx.services.groups.delete(groupId);
    results.push({ groupId, errorCode });
  }
  return { throttleTimeMs: 0, results };
};
