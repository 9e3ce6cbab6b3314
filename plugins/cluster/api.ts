/** `GET /api/cluster`: the live nodes, their endpoints and how many partitions each leads. */
import type { HttpHost } from '../../core/adapter.js';
import type { AccessGuard } from '../admin/access.js';
import { HttpError, sendError, sendJson } from '../admin/http-util.js';
import type { ClusterNode } from './index.js';

export function mountClusterApi(http: HttpHost, cluster: ClusterNode, guard: AccessGuard): void {
  http.route('GET', '/api/cluster', (req, res) => {
    guard.check(req).then(() => {
      sendJson(res, 200, { nodeId: cluster.nodeId, nodes: cluster.describe().map((n) => ({ ...n, health: 'up' })) });
    }, (err: unknown) => {
      if (err instanceof HttpError) sendError(res, err.status, err.message, err.headers);
      else sendError(res, 500, 'internal error');
    });
  });
}
