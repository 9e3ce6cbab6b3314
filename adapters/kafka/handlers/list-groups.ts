/** ListGroups: groups with members or committed offsets, optionally filtered by state (v4+). */
import type { Handler } from '../context.js';
import { ErrorCode } from '../protocol/errors.js';

export const handleListGroups: Handler = (ctx, req) => {
  const states = (req.statesFilter as string[]).map((s) => s.toLowerCase());
  const groups = ctx.services.groups.list()
    .filter((g) => states.length === 0 || states.includes(g.state.toLowerCase()))
    .map((g) => ({ groupId: g.groupId, protocolType: g.protocolType, groupState: g.state, groupType: 'classic' }));
  return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, groups };
};
