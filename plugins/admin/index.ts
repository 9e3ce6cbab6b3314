/**
 * The admin REST API under `/api` on the HTTP listener: JSON in and out, errors as `{ error }`
 * with their status, bodies bounded to 1 MiB, every request checked by the AccessGuard.
 * Endpoints are listed by `GET /api` and described in docs/admin.md.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HttpHost } from '../../core/adapter.js';
import { isClientAbort } from '../http/pipeline.js';
import { InvalidNameError } from '../../core/names.js';
import { ExclusiveQueueError, QueueFullError, QueueNotFoundError } from '../../core/queue-types.js';
import { StreamExistsError } from '../../core/stream/stream-registry.js';
import { AccessGuard } from './access.js';
import { RouteTable, type AdminContext } from './api-routes.js';
import { connectionRoutes } from './connections-api.js';
import { closeIfUnread, HttpError, parseTarget, sendError, sendJson } from './http-util.js';
import { overviewRoutes } from './overview-api.js';
import { queueRoutes } from './queues-api.js';
import { streamRoutes } from './streams-api.js';

export { AccessGuard, parseBasicAuth } from './access.js';
export type { AdminContext } from './api-routes.js';
export { HttpError } from './http-util.js';
export * from './introspection.js';
export { readPackageVersion } from './version.js';

/** A core error as the HTTP status it means; undefined for unexpected errors (500). */
function statusOf(err: unknown): number | undefined {
  if (err instanceof HttpError) return err.status;
  if (err instanceof InvalidNameError || err instanceof RangeError) return 400;
  if (err instanceof QueueNotFoundError) return 404;
  if (err instanceof StreamExistsError || err instanceof ExclusiveQueueError || err instanceof QueueFullError) return 409;
  return undefined;
}

/** Answers an error as JSON; unexpected ones are logged and shown as 500 without details. */
export function replyError(ctx: Pick<AdminContext, 'log'>, req: IncomingMessage, res: ServerResponse, err: unknown): void {
  if (isClientAbort(req, err)) {
    ctx.log.debug({ err: (err as Error).message, method: req.method, url: req.url }, 'admin API client went away during its request');
    return void res.destroy();
  }
  const status = statusOf(err);
  closeIfUnread(req, res);
  if (status === undefined) {
    ctx.log.error({ err, method: req.method, url: req.url }, 'admin API request failed');
    return sendError(res, 500, 'internal error');
  }
  sendError(res, status, (err as Error).message, err instanceof HttpError ? err.headers : {});
}

/** Mounts `/api` and `/api/*` on the HTTP listener. */
export function mountAdminApi(http: HttpHost, ctx: AdminContext, guard = new AccessGuard(ctx.auth)): void {
  const table = new RouteTable();
  table.add(
    { path: '', methods: { GET: ({ res }) => sendJson(res, 200, { version: ctx.version, endpoints: table.describe() }) } },
    ...overviewRoutes(ctx),
    ...queueRoutes(ctx),
    ...streamRoutes(ctx),
    ...connectionRoutes(ctx),
  );

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    try {
      await guard.check(req);
      const { segments, query } = parseTarget(req.url, '/api');
      const { handler, params } = table.match(req.method ?? 'GET', segments);
      await handler({ req, res, params, query });
    } catch (err) {
      replyError(ctx, req, res, err);
    }
  };
  http.route('*', '/api', handle);
  http.route('*', '/api/*', handle);
}
