/** FindCoordinator: the node the cluster view picks for the group (this one when alone); no transaction coordinator. */
import { kafkaEndpoint } from '../cluster-routing.js';
import type { Handler, RequestContext } from '../context.js';
import { ErrorCode } from '../protocol/errors.js';

const KEY_GROUP = 0;

function coordinatorFor(ctx: RequestContext, key: string, keyType: number) {
  if (keyType !== KEY_GROUP) {
    return { key, nodeId: -1, host: '', port: -1, errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, errorMessage: 'transactions are not supported' };
  }
  const cluster = ctx.services.broker.cluster;
  if (!cluster.clustered) return { key, nodeId: ctx.services.settings.nodeId, ...ctx.conn.advertised, errorCode: ErrorCode.NONE, errorMessage: null };
  const node = cluster.nodes().find((n) => n.id === cluster.coordinator(key));
  if (!node) return { key, nodeId: -1, host: '', port: -1, errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, errorMessage: 'no live node' };
  return { key, nodeId: node.id, ...kafkaEndpoint(ctx, node), errorCode: ErrorCode.NONE, errorMessage: null };
}

export const handleFindCoordinator: Handler = (ctx, req) => {
  const keyType = req.keyType as number;
  if (ctx.apiVersion >= 4) {
    return { throttleTimeMs: 0, coordinators: (req.coordinatorKeys as string[]).map((k) => coordinatorFor(ctx, k, keyType)) };
  }
  return { throttleTimeMs: 0, ...coordinatorFor(ctx, req.key as string, keyType) };
};
