/** DeleteGroups: groups without members, with their committed offsets. */
import { allowed, type Handler } from '../context.js';
import { ErrorCode } from '../protocol/errors.js';

export const handleDeleteGroups: Handler = async (ctx, req) => {
  const results = [];
  for (const groupId of req.groupsNames as string[]) {
    const errorCode = allowed(ctx, 'admin', groupId) ? await ctx.services.groups.delete(groupId) : ErrorCode.GROUP_AUTHORIZATION_FAILED;
    results.push({ groupId, errorCode });
  }
  return { throttleTimeMs: 0, results };
};
