/**
 * The admin API's route table: paths of literal segments and `:params` (one decoded segment each),
 * with one handler per method. HEAD is answered by the GET handler (without a body).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AuthPlugin, ListenerInfo, Logger } from '../../core/adapter.js';
import type { Broker } from '../../core/broker.js';
import type { ConnectionRegistry } from '../../core/connection-registry.js';
import { HttpError } from './http-util.js';

export type Method = 'GET' | 'PUT' | 'POST' | 'DELETE';

export interface ApiRequest {
  req: IncomingMessage;
  res: ServerResponse;
  params: Record<string, string>;
  query: URLSearchParams;
}

export type ApiHandler = (r: ApiRequest) => Promise<void> | void;

export interface ApiRoute {
  /** e.g. `queues/:name/bindings` (relative to /api). */
  path: string;
  methods: Partial<Record<Method, ApiHandler>>;
}

/** What the admin plugins are given by startBroker. */
export interface AdminContext {
  broker: Broker;
  auth: AuthPlugin;
  /** Every listener bound so far (filled in as the broker starts). */
  listeners: () => ListenerInfo[];
  version: string;
  /** When the broker started (ms since epoch). */
  startedAt: number;
  log: Logger;
  /** Every protocol's client connections (absent: /api/connections lists none). */
  connections?: ConnectionRegistry;
  /** The file store's directory, for disk metrics (null or absent: in memory). */
  dataDir?: string | null;
}

export interface RouteMatch {
  handler: ApiHandler;
  params: Record<string, string>;
}

export class RouteTable {
  private readonly routes: Array<{ parts: string[]; methods: ApiRoute['methods'] }> = [];

  add(...routes: ApiRoute[]): void {
    for (const r of routes) this.routes.push({ parts: r.path === '' ? [] : r.path.split('/'), methods: r.methods });
  }

  /** The handler for `method` on `segments`; HttpError 404 (no such path) or 405 (method). */
  match(method: string, segments: string[]): RouteMatch {
    for (const r of this.routes) {
      if (r.parts.length !== segments.length) continue;
      const params: Record<string, string> = {};
      let ok = true;
      for (let i = 0; i < r.parts.length && ok; i++) {
        const p = r.parts[i];
        if (p.startsWith(':')) params[p.slice(1)] = segments[i];
        else ok = p === segments[i];
      }
      if (!ok) continue;
      const handler = r.methods[(method === 'HEAD' ? 'GET' : method) as Method];
      if (!handler) {
        const allow = Object.keys(r.methods).flatMap((m) => (m === 'GET' ? ['GET', 'HEAD'] : [m])).join(', ');
        throw new HttpError(405, `method ${method} is not allowed here (allowed: ${allow})`, { allow });
      }
      return { handler, params };
    }
    throw new HttpError(404, 'no such API endpoint');
  }

  /** Every path with its methods, for GET /api. */
  describe(): Array<{ path: string; methods: string[] }> {
    return this.routes.map((r) => ({ path: `/api${r.parts.length ? '/' + r.parts.join('/') : ''}`, methods: Object.keys(r.methods) }));
  }
}
