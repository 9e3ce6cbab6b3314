/**
 * The XMPP adapter: client-to-server listener (5222, STARTTLS), WebSocket endpoint `/xmpp`
 * (RFC 7395), IM (RFC 6121) and XEP-0060 pubsub on core topics. See docs/xmpp.md.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { createSecureContext, createServer as createTlsServer, type SecureContext, type TlsOptions, type TLSSocket } from 'node:tls';
import type { AdapterContext, ListenerInfo, ProtocolAdapter } from '../../core/adapter.js';
import { Accounts } from './accounts.js';
import { resolveXmppSettings, xmppSchema, type XmppSettings } from './config.js';
import { Connection } from './connection.js';
import { Hub } from './hub.js';
import { PubSubService } from './pubsub.js';

export { resolveXmppSettings, xmppSchema, XMPP_DEFAULTS, type XmppSettings } from './config.js';
export { Hub } from './hub.js';
export { offlineQueueName, pubsubQueueName } from './offline.js';

export class XmppAdapter implements ProtocolAdapter {
  readonly name = 'xmpp';
  readonly settingsSchema = xmppSchema;
  private ctx!: AdapterContext;
  settings!: XmppSettings;
  hub!: Hub;
  private secureContext: SecureContext | null = null;
  private tlsOptions: TlsOptions | null = null;
  private requestCert = false;
  private rejectUnauthorized = false;
  private readonly servers: Server[] = [];
  private readonly connections = new Set<Connection>();
  private readonly sockets = new Set<Socket>();
  private stopping = false;

  async init(ctx: AdapterContext): Promise<void> {
    this.ctx = ctx;
    this.settings = resolveXmppSettings(ctx.config?.xmpp);
    const tls = ctx.tls('xmpp');
    if (tls) {
      this.tlsOptions = tls;
      this.secureContext = createSecureContext(tls);
      const req = (ctx.config?.xmpp?.tls?.requestClientCert ?? ctx.config?.tls?.requestClientCert) as boolean | 'require' | undefined;
      this.requestCert = req === true || req === 'require';
      this.rejectUnauthorized = req === 'require';
    } else if (this.settings.requireTls) {
      ctx.log.warn({}, 'xmpp: requireTls is set but no certificate is configured; STARTTLS is not offered');
    }
    const accounts = new Accounts(ctx.auth, ctx.broker.metadata);
    this.hub = new Hub(ctx.broker, this.settings, accounts, ctx.auth, ctx.log);
    this.hub.pubsub = new PubSubService(this.hub, ctx.broker);
    await this.hub.start();
    if (this.settings.registration && !ctx.auth.register) {
      ctx.log.warn({}, 'xmpp: registration is set but the auth plugin cannot register users; in-band registration is off');
    }
    this.settings.registration = accounts.registrationEnabled(this.settings.registration);
  }

  /** One limit across TCP, direct TLS and WebSocket (ctx.connections), before any protocol work. */
  private admit(socket: Socket): boolean {
    if (this.stopping) {
      socket.destroy();
      return false;
    }
    return this.ctx.connections.admit(socket, socket.remoteAddress);
  }

  private accept(socket: Socket, secure: boolean): void {
    if (this.stopping) {
      socket.destroy();
      return;
    }
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 60000);
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    this.newConnection({ socket, secure });
  }

  private newConnection(transport: ConstructorParameters<typeof Connection>[1]): Connection {
    const conn = new Connection({
      hub: this.hub,
      settings: this.settings,
      accounts: this.hub.accounts,
      sasl: this.ctx.sasl,
      log: this.ctx.log,
      secureContext: this.secureContext,
      requestCert: this.requestCert,
      rejectUnauthorized: this.rejectUnauthorized,
      onClose: (c) => this.connections.delete(c),
      clients: this.ctx.connections.clients,
    }, transport);
    this.connections.add(conn);
    return conn;
  }

  async start(): Promise<ListenerInfo[]> {
    const { listen } = this.ctx;
    const out: ListenerInfo[] = [];
    // null = disabled; 0 or -1 = ephemeral (the platform resolves 'auto' to 0).
    if (listen.port !== null) {
      // allowHalfOpen: after a client's FIN the stanzas it sent are handled before we close (connection.ts).
      const server = createServer({ allowHalfOpen: true }, (socket) => { if (this.admit(socket)) this.accept(socket, false); });
      out.push(await this.listen(server, listen.host, listen.port, false));
    }
    if (listen.tlsPort !== null && this.tlsOptions) {
      // Direct TLS (XEP-0368) next to STARTTLS. tls.Server takes the key and certificate as
      // options (it ignores a `secureContext` option).
      const server = createTlsServer({
        ...this.tlsOptions, requestCert: this.requestCert, rejectUnauthorized: this.rejectUnauthorized,
      }, (socket: TLSSocket) => {
        // Half-open only once the handshake is done: a socket whose handshake a client abandoned must close.
        socket.allowHalfOpen = true;
        this.accept(socket, true);
      });
      // The connection limit is checked on the TCP socket, before the TLS handshake.
      server.on('connection', (raw: Socket) => this.admit(raw));
      server.on('tlsClientError', (e) => this.ctx.log.debug({ err: e.message }, 'xmpp: TLS handshake failed'));
      out.push(await this.listen(server, listen.host, listen.tlsPort, true));
    }
    if (this.ctx.http && this.settings.websocket.enabled) {
      this.ctx.http.websocket(this.settings.websocket.path, ['xmpp'], (ws, req) => {
        if (this.stopping) {
          ws.close(1001);
          return;
        }
        if (!this.ctx.connections.admit(ws, req.socket.remoteAddress)) return;
        this.newConnection({ ws, secure: false, remote: req.socket.remoteAddress, peer: req.socket });
      });
    }
    return out;
  }

  private listen(server: Server, host: string, port: number, tls: boolean): Promise<ListenerInfo> {
    this.servers.push(server);
    server.on('error', (e) => this.ctx.log.error({ err: e.message }, 'xmpp: listener error'));
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port === -1 ? 0 : port, host || undefined, () => {
        server.off('error', reject);
        const addr = server.address();
        const bound = typeof addr === 'object' && addr ? addr.port : port;
        resolve({ name: tls ? 'xmpp-tls' : 'xmpp', protocol: 'xmpp', host: host || '0.0.0.0', port: bound, tls });
      });
    });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    const closing = this.servers.map((s) => new Promise<void>((r) => s.close(() => r())));
    this.hub?.closeAll();
    for (const c of [...this.connections]) c.streamError('system-shutdown');
    for (const s of this.sockets) s.destroy();
    await Promise.all(closing);
    this.servers.length = 0;
  }
}

export default function createAdapter(): ProtocolAdapter {
  return new XmppAdapter();
}
