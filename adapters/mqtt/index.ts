/**
 * The MQTT adapter: MQTT 3.1, 3.1.1 and 5.0 over TCP, TLS and WebSocket (`/mqtt`, subprotocol
 * `mqtt`) on the core. The session layer is this adapter's own, on mqtt-packet's parser and
 * generator (see docs/mqtt.md for why not aedes); every message, retained message, subscription
 * and session lives in the core.
 */
import { createWebSocketStream } from 'ws';
import type { AdapterContext, ListenerInfo, ProtocolAdapter } from '../../core/adapter.js';
import { mqttSchema, resolveMqttSettings } from './config.js';
import { MqttConnection } from './connection.js';
import type { MqttContext, MqttStats } from './context.js';
import { SessionManager } from './sessions.js';
import { SessionStore } from './session-store.js';
import { RateLimitedLog } from '../../core/rate-limited-log.js';
import { StoreRefusalLog } from '../../core/store-refusal-log.js';

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
  private readonly connections = new Set<MqttConnection>();
  private limitedLog: RateLimitedLog | null = null;

  async init(actx: AdapterContext): Promise<void> {
    this.actx = actx;
    const log = actx.log; // the platform's child logger already says adapter: mqtt
    const refusals = new StoreRefusalLog(log, 'mqtt');
    const ctx: MqttContext = {
      broker: actx.broker,
      settings: resolveMqttSettings(actx.config),
      auth: actx.auth,
      sasl: actx.sasl,
      log,
      store: new SessionStore(actx.broker.metadata),
      sessions: undefined as unknown as SessionManager,
      stats: this.stats,
      clients: actx.clients,
      warnLimited: (obj, msg) => this.warnLimited(obj, msg),
      storeError: (err, obj, msg) => {
        if (refusals.note(err, obj)) return true;
        log.error({ err, ...obj }, msg);
        return false;
      },
    };
    ctx.sessions = new SessionManager(ctx);
    this.ctx = ctx;
    await ctx.sessions.recover();
  }

  async start(): Promise<ListenerInfo[]> {
    return this.actx.listeners.open({
      // Half-open: after a client's FIN the packets it sent are handled and acknowledged (connection.ts).
      halfOpen: true,
      // A TLS client has as long for its handshake as for its CONNECT after it.
      tlsHandshakeTimeoutMs: this.ctx.settings.connectTimeoutMs,
      socket: (socket, accepted) => this.track(new MqttConnection(this.ctx, socket, accepted, socket)),
      websocket: {
        path: this.ctx.settings.websocketPath,
        protocols: ['mqtt'],
        connection: (ws, accepted) => this.track(new MqttConnection(this.ctx, createWebSocketStream(ws, { allowHalfOpen: false }), accepted, accepted.socket)),
      },
    });
  }

  async stop(): Promise<void> {
    await this.actx.listeners.close();
    this.ctx.sessions.close();
  }

  /** Connections open now (for tests and metrics). */
  get connectionCount(): number {
    return this.connections.size;
  }

  private track(conn: MqttConnection): MqttConnection {
    this.connections.add(conn);
    void conn.closed.then(() => this.connections.delete(conn));
    return conn;
  }

  private warnLimited(obj: Record<string, unknown>, msg: string): void {
    (this.limitedLog ??= new RateLimitedLog(this.ctx.log, 'mqtt')).warn(obj, msg);
  }
}

export default function createAdapter(): MqttAdapter {
  return new MqttAdapter();
}
