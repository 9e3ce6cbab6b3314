/**
 * The MQTT adapter: MQTT 3.1, 3.1.1 and 5.0 over TCP, TLS and WebSocket (`/mqtt`, subprotocol
 * `mqtt`) on the core. The session layer is this adapter's own, on mqtt-packet's parser and
 * generator (see docs/mqtt.md for why not aedes); every message, retained message, subscription
 * and session lives in the core.
 */
import { createServer as createNetServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import type { IncomingMessage } from 'node:http';
import { createWebSocketStream, type WebSocket } from 'ws';
import type { AdapterContext, ListenerInfo, ProtocolAdapter } from '../../core/adapter.js';
import { mqttSchema, resolveMqttSettings } from './config.js';
import { MqttConnection, type Transport } from './connection.js';
import type { MqttContext, MqttStats } from './context.js';
import { SessionManager } from './sessions.js';
import { SessionStore } from './session-store.js';
import { RateLimitedLog } from '../../core/rate-limited-log.js';

export { mqttSchema, resolveMqttSettings, MQTT_DEFAULTS, type MqttSettings } from './config.js';
export type { MqttStats } from './context.js';


export class MqttAdapter implements ProtocolAdapter {
  readonly name = 'mqtt';
  readonly settingsSchema = mqttSchema;
  readonly stats: MqttStats = {
    connections: 0, connects: 0, publishesReceived: 0, publishesSent: 0, droppedTooLarge: 0,
    protocolErrors: 0, willsPublished: 0, sessionsExpired: 0,
  };
  private actx!: AdapterContext;
  private ctx!: MqttContext;
  private readonly servers: Server[] = [];
  private readonly connections = new Set<MqttConnection>();
  private stopping = false;
  private limitedLog: RateLimitedLog | null = null;

  async init(actx: AdapterContext): Promise<void> {
    this.actx = actx;
    const log = actx.log; // the platform's child logger already says adapter: mqtt
    const ctx: MqttContext = {
      broker: actx.broker,
      settings: resolveMqttSettings(actx.config),
      auth: actx.auth,
      sasl: actx.sasl,
      log,
      store: new SessionStore(actx.broker.metadata),
      sessions: undefined as unknown as SessionManager,
      stats: this.stats,
      clients: actx.connections.clients,
      warnLimited: (obj, msg) => this.warnLimited(obj, msg),
    };
    ctx.sessions = new SessionManager(ctx);
    this.ctx = ctx;
    await ctx.sessions.recover();
  }

  async start(): Promise<ListenerInfo[]> {
    const { host, port, tlsPort } = this.actx.listen;
    const out: ListenerInfo[] = [];
    if (port !== null) {
      // allowHalfOpen: after a client's FIN the packets it sent are handled and acknowledged (connection.ts).
      const server = createNetServer({ noDelay: true, allowHalfOpen: true }, (s) => { if (this.admit(s)) this.accept(s, 'tcp'); });
      out.push({ name: 'mqtt', protocol: 'mqtt', host, port: await this.listen(server, port, host), tls: false });
    }
    const tlsOptions = tlsPort !== null ? this.actx.tls('mqtt') : null;
    if (tlsPort !== null && tlsOptions) {
      // Half-open only once the handshake is done: a socket whose handshake a client abandoned must close.
      const server = createTlsServer(tlsOptions, (s) => { s.allowHalfOpen = true; this.accept(s, 'tls'); });
      // The connection limit is checked on the TCP socket, before the TLS handshake.
      server.on('connection', (raw: Socket) => this.admit(raw));
      server.on('tlsClientError', (err: Error) => this.ctx.log.debug({ msg: err.message }, 'mqtt: TLS handshake failed'));
      out.push({ name: 'mqtts', protocol: 'mqtt', host, port: await this.listen(server, tlsPort, host), tls: true });
    }
    const path = this.ctx.settings.websocketPath;
    if (this.actx.http && path) {
      this.actx.http.websocket(path, ['mqtt'], (ws, req) => this.acceptWebSocket(ws, req));
    }
    return out;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    const closed = this.servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve())));
    await Promise.all([...this.connections].map((c) => c.shutdown()));
    this.ctx.sessions.close();
    await Promise.all(closed);
    this.servers.length = 0;
  }

  /** Connections open now (for tests and metrics). */
  get connectionCount(): number {
    return this.connections.size;
  }

  private listen(server: Server, port: number, host: string): Promise<number> {
    this.servers.push(server);
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port === -1 ? 0 : port, host === '' ? undefined : host, () => {
        server.off('error', reject);
        server.on('error', (err) => this.ctx.log.error({ err }, 'mqtt: listener error'));
        const addr = server.address();
        resolve(typeof addr === 'object' && addr ? addr.port : port);
      });
    });
  }

  /** One limit across TCP, TLS and WebSocket (ctx.connections), before any protocol work. */
  private admit(socket: Socket): boolean {
    if (this.stopping) {
      socket.destroy();
      return false;
    }
    return this.actx.connections.admit(socket, socket.remoteAddress);
  }

  private accept(socket: Socket | TLSSocket, transport: Transport): void {
    if (this.stopping) {
      socket.destroy();
      return;
    }
    socket.setNoDelay(true);
    this.track(new MqttConnection(this.ctx, socket, transport, `${socket.remoteAddress}:${socket.remotePort}`, socket));
  }

  private acceptWebSocket(ws: WebSocket, req: IncomingMessage): void {
    if (this.stopping) {
      ws.terminate();
      return;
    }
    if (!this.actx.connections.admit(ws, req.socket.remoteAddress)) return;
    const stream = createWebSocketStream(ws, { allowHalfOpen: false });
    this.track(new MqttConnection(this.ctx, stream, 'ws', `${req.socket.remoteAddress}:${req.socket.remotePort}`, req.socket));
  }

  private track(conn: MqttConnection): void {
    this.connections.add(conn);
    void conn.closed.then(() => this.connections.delete(conn));
  }

  private warnLimited(obj: Record<string, unknown>, msg: string): void {
    (this.limitedLog ??= new RateLimitedLog(this.ctx.log, 'mqtt')).warn(obj, msg);
  }

}

export default function createAdapter(): MqttAdapter {
  return new MqttAdapter();
}
