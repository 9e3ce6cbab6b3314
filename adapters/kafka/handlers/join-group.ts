/** JoinGroup: held until the group's join phase completes (group/consumer-group.ts). */
import { notCoordinator } from '../cluster-routing.js';
import type { Handler } from '../context.js';
import type { JoinResult, MemberProtocol } from '../group/consumer-group.js';
import { ErrorCode } from '../protocol/errors.js';

function toResponse(r: JoinResult) {
  return {
    throttleTimeMs: 0,
    errorCode: r.errorCode,
    generationId: r.generationId,
    protocolType: r.protocolType,
    protocolName: r.protocolName ?? '',
    leader: r.leader,
    skipAssignment: false,
    memberId: r.memberId,
    members: r.members,
  };
}

export const handleJoinGroup: Handler = async (ctx, req) => {
  const { groups, settings } = ctx.services;
  const groupId = req.groupId as string;
  const sessionTimeoutMs = req.sessionTimeoutMs as number;
  const failure = (errorCode: ErrorCode) => toResponse({ errorCode, generationId: -1, protocolType: null, protocolName: null, leader: '', memberId: req.memberId as string, members: [] });
  if (groupId === '') return failure(ErrorCode.INVALID_GROUP_ID);
  if (notCoordinator(ctx, groupId)) return failure(ErrorCode.NOT_COORDINATOR);
  if (sessionTimeoutMs < settings.groupMinSessionTimeoutMs || sessionTimeoutMs > settings.groupMaxSessionTimeoutMs) {
    return failure(ErrorCode.INVALID_SESSION_TIMEOUT);
  }
  const rebalanceTimeoutMs = ctx.apiVersion >= 1 && (req.rebalanceTimeoutMs as number) > 0 ? req.rebalanceTimeoutMs as number : sessionTimeoutMs;
  const result = await groups.getOrCreate(groupId).join({
    memberId: req.memberId as string,
    groupInstanceId: req.groupInstanceId as string | null,
    clientId: ctx.clientId,
    clientHost: ctx.conn.clientHost,
    sessionTimeoutMs,
    rebalanceTimeoutMs,
    protocolType: req.protocolType as string,
    protocols: req.protocols as MemberProtocol[],
    requireKnownMemberId: ctx.apiVersion >= 4,
  });
  return toResponse(result);
};
