/**
 * The STOMP adapter: STOMP 1.0, 1.1 and 1.2 over TCP (61613), TLS (61614, when a certificate is
 * configured) and WebSocket (`/stomp` on the HTTP port, subprotocols v10.stomp, v11.stomp,
 * v12.stomp). See docs/stomp.md.
 */
import type { AdapterContext, AuthPlugin, ListenerInfo, Logger, ProtocolAdapter, ServedConnection } from '../../core/adapter.js';
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
  readonly connections = new Set<StompConnection>();
  private readonly clientIds = new Map<string, StompConnection>();

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
    return this.ctx.clients;
  }

  async init(ctx: AdapterContext): Promise<void> {
    this.ctx = ctx;
    this.settings = resolveStompSettings(ctx.config?.stomp);
  }

  async start(): Promise<ListenerInfo[]> {
    return this.ctx.listeners.open({
      // Half-open: a client's FIN must not close our side before the frames it sent are answered.
      halfOpen: true,
      tlsHandshakeTimeoutMs: this.settings.handshakeTimeoutMs,
      socket: (socket, accepted) => this.add(new SocketTransport(socket, accepted.kind === 'tls' ? 'tls' : 'tcp')),
      websocket: {
        path: WS_PATH,
        protocols: WS_PROTOCOLS,
        connection: (ws, accepted) => this.add(new WebSocketTransport(ws, accepted.remote, this.settings.maxWriteBuffer / 2, accepted.socket)),
      },
    });
  }

  private add(transport: Transport): ServedConnection {
    const conn = new StompConnection(this, transport);
    this.connections.add(conn);
    return {
      // Stopping: no goodbye frame (the connection is gone either way); its state is released now.
      shutdown: () => {
        conn.close('broker stopping');
        conn.transport.destroy();
        conn.cleanup();
      },
    };
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
    await this.ctx.listeners.close();
  }
}

export default function createAdapter(): ProtocolAdapter {
  return new StompAdapter();
}
