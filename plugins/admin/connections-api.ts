/**
 * /api/connections: every client connection of every protocol (who, from where, since when, how
 * much traffic), and `DELETE /api/connections/<id>` to close one the protocol's own way.
 * Filters: `?protocol=mqtt`, `?user=alice`.
 */
import type { AdminContext, ApiRequest, ApiRoute } from './api-routes.js';
import { HttpError, sendJson } from './http-util.js';

const CLOSED_BY_ADMIN = 'closed by an administrator';

export function connectionRoutes(ctx: AdminContext): ApiRoute[] {
  const list = ({ res, query }: ApiRequest) => {
    const protocol = query.get('protocol');
    const user = query.get('user');
    const all = ctx.connections?.list() ?? [];
    const shown = all.filter((c) => (protocol === null || c.protocol === protocol) && (user === null || c.user === user));
    sendJson(res, 200, shown.map((c) => c.view()));
  };
  const find = (id: string) => {
    const c = ctx.connections?.get(id);
    if (!c) throw new HttpError(404, `no connection "${id}"`);
    return c;
  };
  const show = ({ res, params }: ApiRequest) => sendJson(res, 200, find(params.id).view());
  const close = ({ res, params }: ApiRequest) => {
    const c = find(params.id);
    ctx.log.info(c.logFields(), 'closing connection on an administrator\'s request');
    c.kick(CLOSED_BY_ADMIN);
    res.writeHead(204).end();
  };
  return [
    { path: 'connections', methods: { GET: list } },
    { path: 'connections/:id', methods: { GET: show, DELETE: close } },
  ];
}
