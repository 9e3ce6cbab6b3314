/**
 * The STOMP adapter: STOMP 1.0, 1.1 and 1.2 over TCP (61613), TLS (61614, when a certificate is
 * configured) and WebSocket (`/stomp` on the HTTP port, subprotocols v10.stomp, v11.stomp,
 * v12.stomp). See docs/stomp.md.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import type { IncomingMessage } from 'node:http';
import type { WebSocket } from 'ws';
import type { AdapterContext, AuthPlugin, ListenerInfo, Logger, ProtocolAdapter } from '../../core/adapter.js';
import type { Broker } from '../../core/broker.js';
import type { ProtocolConnections } from '../../core/connection-registry.js';
import type { StompAdapterCore } from './adapter-core.js';
import { resolveStompSettings, stompSchema, type StompSettings } from './config.js';
import { StompConnection } from './connection.js';
import { SocketTransport, WebSocketTransport, type Transport } from './transport.js';

export { StompConnection } from './connection.js';
export { StompError } from './errors.js';
export { StompParser, StompParseError } from './parser.js';
export { encodeFrame, escapeHeader, unescapeHeader } from './frame.js';
export { resolveStompSettings, STOMP_DEFAULTS, stompSchema, type StompSettings } from './config.js';
export { sendFrameToMessage, messageToFrame } from './stomp-message.js';

export const WS_PATH = '/stomp';
export const WS_PROTOCOLS = ['v12.stomp', 'v11.stomp', 'v10.stomp'];

export class StompAdapter implements ProtocolAdapter, StompAdapterCore {
  readonly name = 'stomp';
  readonly settingsSchema = stompSchema;
  private ctx!: AdapterContext;
  settings!: StompSettings;
  private servers: Array<{ server: Server; info: ListenerInfo }> = [];
  readonly connections = new Set<StompConnection>();
  private readonly clientIds = new Map<string, StompConnection>();
  private stopping = false;

  get broker(): Broker {
    return this.ctx.broker;
  }

  get auth(): AuthPlugin {
    return this.ctx.auth;
  }

  get log(): Logger {
    return this.ctx.log;
  }

  get clients(): ProtocolConnections {
    return this.ctx.connections.clients;
  }

  async init(ctx: AdapterContext): Promise<void> {
    this.ctx = ctx;
    this.settings = resolveStompSettings(ctx.config?.stomp);
    ctx.http?.websocket(WS_PATH, WS_PROTOCOLS, (ws, req) => this.acceptWebSocket(ws, req));
  }

  async start(): Promise<ListenerInfo[]> {
    const { host, port, tlsPort } = this.ctx.listen;
    if (port !== null) {
      // allowHalfOpen: a client's FIN must not close our side before the frames it sent are answered.
      const server = createServer({ allowHalfOpen: true }, (socket) => this.accept(socket, 'tcp'));
      this.servers.push({ server, info: await this.listen(server, host, port, false) });
    }
    const tlsOptions = tlsPort !== null ? this.ctx.tls('stomp') : null;
    if (tlsOptions) {
      // Half-open only once the handshake is done: a socket whose handshake a client abandoned must close.
      const server = createTlsServer(tlsOptions, (socket) => {
        socket.allowHalfOpen = true;
        this.accept(socket, 'tls');
      });
      server.on('tlsClientError', (err) => this.log.debug({ err: err.message }, 'STOMP TLS handshake failed'));
      this.servers.push({ server, info: await this.listen(server, host, tlsPort!, true) });
    }
    return this.servers.map((s) => s.info);
  }

  private listen(server: Server, host: string, port: number, tls: boolean): Promise<ListenerInfo> {
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      // null = disabled (not called); -1 and 0 = an ephemeral port.
      server.listen(port < 0 ? 0 : port, host, () => {
        server.off('error', reject);
        server.on('error', (err) => this.log.error({ err }, 'STOMP listener error'));
        const addr = server.address();
        const bound = typeof addr === 'object' && addr ? addr.port : port;
        resolve({ name: tls ? 'stomp-tls' : 'stomp', protocol: 'stomp', host, port: bound, tls });
      });
    });
  }

  private accept(socket: Socket, kind: 'tcp' | 'tls'): void {
    if (this.stopping) {
      socket.destroy();
      return;
    }
    if (!this.ctx.connections.admit(socket, `${socket.remoteAddress}:${socket.remotePort}`)) return;
    this.add(new SocketTransport(socket, kind));
  }

  private acceptWebSocket(ws: WebSocket, req: IncomingMessage): void {
    if (this.stopping || !this.settings) {
      ws.terminate();
      return;
    }
    const remote = `${req.socket.remoteAddress}:${req.socket.remotePort}`;
    if (!this.ctx.connections.admit(ws, remote)) return;
    this.add(new WebSocketTransport(ws, remote, this.settings.maxWriteBuffer / 2, req.socket));
  }

  private add(transport: Transport): void {
    const conn = new StompConnection(this, transport);
    this.connections.add(conn);
  }

  claimClientId(clientId: string, conn: StompConnection): boolean {
    const holder = this.clientIds.get(clientId);
    if (holder && holder !== conn && holder.state !== 'closed' && holder.state !== 'closing') return false;
    this.clientIds.set(clientId, conn);
    return true;
  }

  releaseClientId(clientId: string, conn: StompConnection): void {
    if (this.clientIds.get(clientId) === conn) this.clientIds.delete(clientId);
  }

  connectionClosed(conn: StompConnection): void {
    this.connections.delete(conn);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    const closing = this.servers.map(({ server }) => new Promise<void>((resolve) => server.close(() => resolve())));
    for (const conn of [...this.connections]) {
      conn.close('broker stopping');
      conn.transport.destroy();
      conn.cleanup();
    }
    await Promise.all(closing);
    this.servers = [];
  }
}

export default function createAdapter(): ProtocolAdapter {
  return new StompAdapter();
}
