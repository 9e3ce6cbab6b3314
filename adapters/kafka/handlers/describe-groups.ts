/** DescribeGroups: state, protocol and members (subscription and assignment bytes as the clients sent them). */
import { notCoordinator } from '../cluster-routing.js';
import type { Handler } from '../context.js';
import { ErrorCode } from '../protocol/errors.js';

export const handleDescribeGroups: Handler = (ctx, req) => {
  const { groups } = ctx.services;
  const out = (req.groups as string[]).map((groupId) => {
    const g = groups.get(groupId);
    const live = g !== undefined && g.members.size > 0;
    const known = live || groups.exists(groupId);
    return {
      errorCode: notCoordinator(ctx, groupId) ? ErrorCode.NOT_COORDINATOR : ErrorCode.NONE,
      groupId,
      groupState: live ? g!.state : known ? 'Empty' : 'Dead',
      protocolType: live ? g!.protocolType ?? '' : known ? 'consumer' : '',
      protocolData: live && g!.state !== 'PreparingRebalance' ? g!.protocolName ?? '' : '',
      members: live ? g!.describeMembers().map((m) => ({
        memberId: m.memberId, groupInstanceId: m.groupInstanceId, clientId: m.clientId, clientHost: m.clientHost,
        memberMetadata: m.metadata, memberAssignment: m.assignment,
      })) : [],
      authorizedOperations: req.includeAuthorizedOperations ? (1 << 3) | (1 << 6) | (1 << 8) : -2147483648, // READ, DELETE, DESCRIBE
    };
  });
  return { throttleTimeMs: 0, groups: out };
};
