/** FindCoordinator: this node coordinates every group; transactions have no coordinator here. */
import type { Handler, RequestContext } from '../context.js';
import { ErrorCode } from '../protocol/errors.js';

const KEY_GROUP = 0;

function coordinatorFor(ctx: RequestContext, key: string, keyType: number) {
  const { nodeId } = ctx.services.settings;
  if (keyType !== KEY_GROUP) {
    return { key, nodeId: -1, host: '', port: -1, errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, errorMessage: 'transactions are not supported' };
  }
  return { key, nodeId, host: ctx.conn.advertised.host, port: ctx.conn.advertised.port, errorCode: ErrorCode.NONE, errorMessage: null };
}

export const handleFindCoordinator: Handler = (ctx, req) => {
  const keyType = req.keyType as number;
  if (ctx.apiVersion >= 4) {
    return { throttleTimeMs: 0, coordinators: (req.coordinatorKeys as string[]).map((k) => coordinatorFor(ctx, k, keyType)) };
  }
  return { throttleTimeMs: 0, ...coordinatorFor(ctx, req.key as string, keyType) };
};
