/**
 * The HTTP listener: `/healthz`, `/readyz`, WebSocket endpoints that adapters mount by path
 * (`ws` in noServer mode, one WebSocketServer per endpoint) and plain routes for the admin API and
 * metrics. Request heads are bounded (431 past http.maxHeaderBytes), slow requests time out,
 * pipelined requests of one connection take turns (RequestTurns) so none builds a response backlog,
 * and connections are limited (`limits.maxConnections`, a ConnectionGate as every adapter has):
 * past the limit a socket is closed on accept, before any HTTP or TLS work.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { TlsOptions } from 'node:tls';
import { WebSocketServer, type WebSocket } from 'ws';
import type { HttpConfig } from '../../config/schema.js';
import type { HttpHost, ListenerInfo, Logger } from '../../core/adapter.js';
import { ConnectionGate } from '../../core/connection-gate.js';
import { isClientAbort, RequestTurns } from './pipeline.js';

export { isClientAbort } from './pipeline.js';

export type RouteHandler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

export interface WebSocketEndpointOptions {
  /** Refuse clients that offer no subprotocol (400). Default false: they are accepted without one. */
  requireProtocol?: boolean;
  /** Largest message on this endpoint; default http.maxWebSocketMessageBytes. */
  maxPayload?: number;
  /** Checked on the HTTP socket before the upgrade is answered (the adapter's connection limit); false = destroyed without a byte. */
  admit?: (socket: Socket) => boolean;
}

interface Endpoint {
  path: string;
  protocols: string[];
  wss: WebSocketServer;
  requireProtocol: boolean;
  admit?: (socket: Socket) => boolean;
}

export interface HttpListenerOptions {
  config: Omit<HttpConfig, 'tls'>;
  host: string;
  /** Port to bind (0 = ephemeral). */
  port: number;
  /** Connections open at once, plain or TLS, WebSockets included (<= 0: no limit). */
  maxConnections: number;
  tls: TlsOptions | null;
  log: Logger;
  /** Refuses a new socket from an address opening connections too fast (limits.connectionRate). */
  rate?: { allow(address: string | undefined): boolean } | null;
}

const STATUS_TEXT: Record<number, string> = { 400: 'Bad Request', 404: 'Not Found', 503: 'Service Unavailable' };

export class HttpListener implements HttpHost {
  readonly server: Server;
  private readonly endpoints = new Map<string, Endpoint>();
  private readonly routes = new Map<string, RouteHandler>();
  private readonly prefixRoutes: { method: string; prefix: string; handler: RouteHandler }[] = [];
  private ready = false;
  private stopping = false;
  bound: { host: string; port: number; tls: boolean } | null = null;
  private readonly turns: RequestTurns;
  /** The connection limit, checked on each TCP socket as it is accepted. */
  readonly connections: ConnectionGate;

  constructor(private readonly opts: HttpListenerOptions) {
    const c = opts.config;
    this.turns = new RequestTurns(opts.log);
    const serverOpts = {
      maxHeaderSize: c.maxHeaderBytes,
      headersTimeout: c.headersTimeoutMs,
      requestTimeout: c.requestTimeoutMs,
      keepAliveTimeout: c.keepAliveTimeoutMs,
    };
    const handler = (req: IncomingMessage, res: ServerResponse) => this.turns.run(req, res, () => this.handle(req, res));
    this.server = opts.tls ? createHttpsServer({ ...serverOpts, ...opts.tls }, handler) : createHttpServer(serverOpts, handler);
    this.connections = new ConnectionGate('http', opts.maxConnections, opts.log);
    // On the TCP socket (for HTTPS before the handshake); a refused one is destroyed at once.
    this.server.on('connection', (socket: Socket) => {
      if (opts.rate && !opts.rate.allow(socket.remoteAddress)) socket.destroy();
      else this.connections.admit(socket, socket.remoteAddress);
    });
    this.server.on('upgrade', (req, socket, head) => this.upgrade(req, socket, head));
    this.server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
      opts.log.debug({ err: err.message, code: err.code }, 'http client error');
      if (!socket.writable) return socket.destroy();
      const status = err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request';
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    });
    this.route('GET', '/healthz', (_req, res) => text(res, 200, 'ok\n'));
    this.route('GET', '/readyz', (_req, res) => (this.isReady ? text(res, 200, 'ready\n') : text(res, 503, 'not ready\n')));
  }

  /** True once the broker and every adapter have started, false again while stopping. */
  get isReady(): boolean {
    return this.ready && !this.stopping;
  }

  setReady(ready: boolean): void {
    this.ready = ready;
  }

  /**
   * Mounts a WebSocket endpoint at `path`. The subprotocol chosen is the first of `protocols`
   * (the endpoint's order of preference) that the client offers; a client offering only unknown
   * subprotocols gets 400, one offering none is accepted unless `requireProtocol`.
   */
  websocket(
    path: string,
    protocols: string[],
    onConnection: (ws: WebSocket, req: IncomingMessage) => void,
    options: WebSocketEndpointOptions = {},
  ): void {
    if (this.endpoints.has(path)) throw new Error(`WebSocket endpoint ${path} is already mounted`);
    const wss = new WebSocketServer({
      noServer: true,
      maxPayload: options.maxPayload ?? this.opts.config.maxWebSocketMessageBytes,
      handleProtocols: (offered) => protocols.find((p) => offered.has(p)) ?? false,
    });
    wss.on('connection', (ws: WebSocket, req: IncomingMessage) => {
      ws.on('error', (err) => this.opts.log.debug({ path, err: err.message }, 'websocket error'));
      try {
        onConnection(ws, req);
      } catch (err) {
        this.opts.log.error({ path, err }, 'websocket endpoint failed on a new connection');
        ws.terminate();
      }
    });
    this.endpoints.set(path, { path, protocols, wss, requireProtocol: options.requireProtocol ?? false, admit: options.admit });
  }

  /** Adds a route. `path` is exact, or a prefix when it ends in `/*`; method `*` matches any. */
  route(method: string, path: string, handler: RouteHandler): void {
    const m = method.toUpperCase();
    if (path.endsWith('/*')) {
      this.prefixRoutes.push({ method: m, prefix: path.slice(0, -1), handler });
      return;
    }
    const key = `${m} ${path}`;
    if (this.routes.has(key)) throw new Error(`route ${key} is already registered`);
    this.routes.set(key, handler);
  }

  private findRoute(method: string, path: string): RouteHandler | undefined {
    const exact = this.routes.get(`${method} ${path}`) ?? this.routes.get(`* ${path}`);
    if (exact) return exact;
    if (method === 'HEAD') return this.findRoute('GET', path);
    return this.prefixRoutes.find((r) => (r.method === method || r.method === '*') && path.startsWith(r.prefix))?.handler;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const path = pathOf(req.url);
    if (path === null) return text(res, 400, 'bad request target\n');
    const handler = this.findRoute(req.method ?? 'GET', path);
    if (!handler) return text(res, 404, 'not found\n');
    const fail = (err: unknown) => {
      if (isClientAbort(req, err)) {
        this.opts.log.debug({ err: (err as Error).message, method: req.method, path }, 'http client went away during its request');
        if (!res.headersSent) res.destroy();
        return;
      }
      this.opts.log.error({ err, method: req.method, path }, 'http handler failed');
      if (!res.headersSent) text(res, 500, 'internal error\n');
      else res.destroy();
    };
    try {
      const r = handler(req, res);
      if (r && typeof (r as Promise<void>).catch === 'function') (r as Promise<void>).catch(fail);
    } catch (err) {
      fail(err);
    }
  }

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    if (this.stopping) return refuse(socket, 503);
    const path = pathOf(req.url);
    const ep = path === null ? undefined : this.endpoints.get(path);
    if (!ep) return refuse(socket, 404);
    if ((req.headers.upgrade ?? '').toLowerCase() !== 'websocket') return refuse(socket, 400);
    const offered = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim()).filter(Boolean);
    if (offered.length > 0 && ep.protocols.length > 0 && !offered.some((p) => ep.protocols.includes(p))) {
      return refuse(socket, 400, `unsupported subprotocol; this endpoint speaks ${ep.protocols.join(', ')}`);
    }
    if (offered.length === 0 && ep.requireProtocol) {
      return refuse(socket, 400, `a subprotocol is required: ${ep.protocols.join(', ')}`);
    }
    if (ep.admit && !ep.admit(socket as Socket)) {
      socket.destroy();
      return;
    }
    ep.wss.handleUpgrade(req, socket, head, (ws) => ep.wss.emit('connection', ws, req));
  }

  async start(): Promise<ListenerInfo> {
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.server.once('error', onError);
      this.server.listen(this.opts.port, this.opts.host, () => {
        this.server.off('error', onError);
        resolve();
      });
    });
    this.server.on('error', (err) => this.opts.log.error({ err }, 'http listener error'));
    const addr = this.server.address();
    const port = typeof addr === 'object' && addr ? addr.port : this.opts.port;
    const host = typeof addr === 'object' && addr ? addr.address : this.opts.host;
    this.bound = { host, port, tls: !!this.opts.tls };
    return { name: 'http', protocol: this.opts.tls ? 'https' : 'http', host, port, tls: !!this.opts.tls };
  }

  /** Stops accepting, closes WebSockets with 1001 (going away), then every remaining connection. */
  async stop(graceMs = 2000): Promise<void> {
    this.stopping = true;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    const sockets: WebSocket[] = [];
    for (const ep of this.endpoints.values()) for (const ws of ep.wss.clients) sockets.push(ws);
    for (const ws of sockets) ws.close(1001, 'server shutting down');
    this.server.closeIdleConnections();
    const grace = setTimeout(() => {
      for (const ws of sockets) ws.terminate();
      this.server.closeAllConnections();
    }, graceMs);
    grace.unref();
    await closed;
    clearTimeout(grace);
    for (const ep of this.endpoints.values()) ep.wss.close();
  }
}

function pathOf(url: string | undefined): string | null {
  try {
    return new URL(url ?? '/', 'http://localhost').pathname;
  } catch {
    return null;
  }
}

function text(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

function refuse(socket: Duplex, status: number, reason?: string): void {
  const body = reason ? `${reason}\n` : '';
  socket.end(`HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
}
