/**
 * The listener service an adapter gets in its context (ctx.listeners): it opens the adapter's TCP,
 * TLS and WebSocket endpoints under one naming scheme (`<protocol>`, `<protocol>-tls`,
 * `<protocol>-ws`) and admits each socket before any protocol work:
 *
 *   1. the per-address connection rate (limits.connectionRate),
 *   2. the adapter's connection limit, counted across all of its listeners (limits.maxConnections),
 *
 * a socket refused by either is destroyed without a byte written (for TLS: before the handshake;
 * for WebSocket: before the upgrade is answered). Admitted transports are handed to the adapter's
 * handlers and tracked until their close event, which is what the drain on stop waits for.
 *
 *   const infos = await ctx.listeners.open({
 *     halfOpen: true,
 *     socket: (socket, accepted) => new MyConnection(socket, accepted),
 *     websocket: { path: '/my', protocols: ['my'], connection: (ws, accepted) => ... },
 *   });
 *   ...
 *   await ctx.listeners.close();   // in stop()
 */
import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type TlsOptions } from 'node:tls';
import type { WebSocket } from 'ws';
import type {
  AcceptedConnection, AdapterContext, HttpHost, ListenerInfo, ListenerService, ListenerSpec, Logger, ServedConnection, WebSocketEndpointSpec,
} from '../../core/adapter.js';
import { ConnectionGate } from '../../core/connection-gate.js';
import type { ConnectionRateLimiter } from './connection-rate.js';

export const DEFAULT_TLS_HANDSHAKE_TIMEOUT_MS = 10_000;
export const DEFAULT_DRAIN_GRACE_MS = 2000;

export interface ListenerServiceOptions {
  /** The adapter's name: the listeners are named after it. */
  protocol: string;
  host: string;
  /** null = no plain listener; 0 or -1 = an ephemeral port. */
  port: number | null;
  /** null = no TLS listener; opened only when `tls` is given too. */
  tlsPort: number | null;
  /** The listener's TLS options (null = no certificate configured). */
  tls: TlsOptions | null;
  http: HttpHost | null;
  /** The adapter's connection limit (and its registry of clients). */
  gate: ConnectionGate;
  rate?: ConnectionRateLimiter | null;
  log: Logger;
}

/** A transport being served: the drain destroys it when the grace time is over. */
interface Served {
  transport: Socket | WebSocket;
  conn: ServedConnection;
}

const ignore = () => undefined;

export class AdapterListeners implements ListenerService {
  private readonly servers: Server[] = [];
  private readonly served = new Set<Served>();
  /** TLS sockets admitted whose handshake is not done, by `address:port` (destroyed on stop). */
  private readonly handshaking = new Map<string, Socket>();
  private stopping = false;
  private drained: (() => void) | null = null;

  constructor(private readonly opts: ListenerServiceOptions) {}

  get count(): number {
    return this.opts.gate.count;
  }

  async open(spec: ListenerSpec): Promise<ListenerInfo[]> {
    const { port, tlsPort, tls } = this.opts;
    const out: ListenerInfo[] = [];
    if (spec.socket && port !== null) out.push(await this.listen(spec, this.plainServer(spec), port, false));
    if (spec.socket && tlsPort !== null && tls) out.push(await this.listen(spec, this.tlsServer(spec, tls), tlsPort, true));
    const ws = spec.websocket;
    if (ws?.path && this.opts.http) out.push(this.mount(ws, ws.path, this.opts.http));
    return out;
  }

  private plainServer(spec: ListenerSpec): Server {
    const server = createServer({ allowHalfOpen: spec.halfOpen ?? false });
    server.on('connection', (socket: Socket) => {
      if (this.admit(socket)) this.accept(spec, socket, 'tcp');
    });
    return server;
  }

  private tlsServer(spec: ListenerSpec, tls: TlsOptions): Server {
    const server = createTlsServer({ ...tls, ...spec.tls, handshakeTimeout: spec.tlsHandshakeTimeoutMs ?? DEFAULT_TLS_HANDSHAKE_TIMEOUT_MS });
    // tls.Server wraps the TCP socket in its own 'connection' listener, registered before this one:
    // a socket destroyed here has had nothing written to it.
    server.on('connection', (raw: Socket) => {
      if (!this.admit(raw)) return;
      const key = `${raw.remoteAddress}:${raw.remotePort}`;
      this.handshaking.set(key, raw);
      raw.once('close', () => { if (this.handshaking.get(key) === raw) this.handshaking.delete(key); });
    });
    server.on('secureConnection', (socket: Socket) => {
      this.handshaking.delete(`${socket.remoteAddress}:${socket.remotePort}`);
      if (spec.halfOpen) socket.allowHalfOpen = true;
      this.accept(spec, socket, 'tls');
    });
    // A listener here means node leaves the socket open (a handshake timeout among others): close it.
    server.on('tlsClientError', (err: Error, socket: Socket) => {
      this.opts.log.debug({ err: err.message }, `${this.opts.protocol}: TLS handshake failed`);
      socket.destroy();
    });
    return server;
  }

  /** Rate, then limit; false = the socket is destroyed. */
  private admit(socket: Socket): boolean {
    socket.on('error', ignore); // 'close' follows; the connection logs what it needs
    if (this.stopping) {
      socket.destroy();
      return false;
    }
    if (this.opts.rate && !this.opts.rate.allow(socket.remoteAddress, this.opts.protocol)) {
      this.opts.gate.clients.refusedOverRate++;
      socket.destroy();
      return false;
    }
    return this.opts.gate.admit(socket, socket.remoteAddress);
  }

  private accept(spec: ListenerSpec, socket: Socket, kind: 'tcp' | 'tls'): void {
    if (this.stopping) {
      socket.destroy();
      return;
    }
    socket.setNoDelay(true);
    const accepted: AcceptedConnection = {
      listener: kind === 'tls' ? `${this.opts.protocol}-tls` : this.opts.protocol,
      kind, remote: `${socket.remoteAddress}:${socket.remotePort}`, address: socket.remoteAddress, socket,
    };
    let conn: ServedConnection;
    try {
      conn = spec.socket!(socket, accepted);
    } catch (err) {
      this.opts.log.error({ err, listener: accepted.listener }, 'connection setup failed');
      socket.destroy();
      return;
    }
    const idle = spec.idleTimeoutMs ?? 0;
    if (idle > 0) {
      socket.setTimeout(idle);
      socket.on('timeout', () => (conn.idle ? conn.idle() : socket.destroy()));
    }
    this.track(socket, conn);
  }

  private mount(ws: WebSocketEndpointSpec, path: string, http: HttpHost): ListenerInfo {
    const name = `${this.opts.protocol}-ws`;
    http.websocket(path, ws.protocols, (socket, req) => {
      const accepted: AcceptedConnection = {
        listener: name, kind: 'ws', remote: `${req.socket.remoteAddress}:${req.socket.remotePort}`, address: req.socket.remoteAddress, socket: req.socket,
      };
      if (this.stopping) {
        socket.terminate();
        return;
      }
      this.track(socket, ws.connection(socket, accepted));
    }, {
      requireProtocol: ws.requireProtocol, maxPayload: ws.maxPayload,
      // Counted on the HTTP socket until it closes; the HTTP listener applied the connection rate on accept.
      admit: (socket) => !this.stopping && this.opts.gate.admit(socket, socket.remoteAddress),
    });
    const bound = http.bound;
    return { name, protocol: this.opts.protocol, host: bound?.host ?? this.opts.host, port: bound?.port ?? 0, tls: bound?.tls ?? false, path };
  }

  private track(transport: Socket | WebSocket, conn: ServedConnection): void {
    const entry: Served = { transport, conn };
    this.served.add(entry);
    transport.once('close', () => {
      this.served.delete(entry);
      if (this.served.size === 0) this.drained?.();
    });
  }

  private listen(spec: ListenerSpec, server: Server, port: number, tls: boolean): Promise<ListenerInfo> {
    const { protocol, host, log } = this.opts;
    const name = tls ? `${protocol}-tls` : protocol;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port < 0 ? 0 : port, host === '' ? undefined : host, () => {
        server.off('error', reject);
        server.on('error', (err) => log.error({ err: err.message, listener: name }, 'listener error'));
        this.servers.push(server);
        const addr = server.address();
        resolve({ name, protocol, host, port: typeof addr === 'object' && addr ? addr.port : port, tls });
      });
    });
  }

  async close(graceMs = DEFAULT_DRAIN_GRACE_MS): Promise<void> {
    this.stopping = true;
    const closing = this.servers.splice(0).map((s) => new Promise<void>((resolve) => s.close(() => resolve())));
    for (const raw of this.handshaking.values()) raw.destroy();
    this.handshaking.clear();
    const gone = this.served.size === 0 ? Promise.resolve() : new Promise<void>((resolve) => { this.drained = resolve; });
    const shutdowns = [...this.served].map(({ conn }) => {
      try {
        return Promise.resolve(conn.shutdown()).catch((err) => this.opts.log.error({ err }, 'connection shutdown failed'));
      } catch (err) {
        this.opts.log.error({ err }, 'connection shutdown failed');
        return undefined;
      }
    });
    const grace = setTimeout(() => {
      for (const { transport } of this.served) {
        if ('terminate' in transport) transport.terminate();
        else transport.destroy();
      }
    }, graceMs);
    grace.unref();
    await gone;
    clearTimeout(grace);
    await Promise.all(shutdowns);
    await Promise.all(closing);
    this.drained = null;
  }
}

/**
 * An AdapterContext assembled by hand (tests, benchmarks): the listener service over `ctx.listen`,
 * with its own connection limit (`maxConnections`, 0 = none) and no connection rate.
 */
export function withListeners(ctx: Omit<AdapterContext, 'listeners' | 'clients'>, protocol: string, maxConnections = 0): AdapterContext {
  const gate = new ConnectionGate(protocol, maxConnections, ctx.log);
  const listeners = new AdapterListeners({
    protocol, ...ctx.listen, tls: ctx.tls(protocol) as TlsOptions | null, http: ctx.http, gate, log: ctx.log,
  });
  return { ...ctx, listeners, clients: gate.clients };
}
