/**
 * The XMPP adapter: client-to-server listener (5222, STARTTLS), WebSocket endpoint `/xmpp`
 * (RFC 7395), IM (RFC 6121) and XEP-0060 pubsub on core topics. See docs/xmpp.md.
 */
import { createSecureContext, type SecureContext } from 'node:tls';
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
  private requestCert = false;
  private rejectUnauthorized = false;

  async init(ctx: AdapterContext): Promise<void> {
    this.ctx = ctx;
    this.settings = resolveXmppSettings(ctx.config?.xmpp);
    const tls = ctx.tls('xmpp');
    if (tls) {
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

  private newConnection(transport: ConstructorParameters<typeof Connection>[1]): Connection {
    return new Connection({
      hub: this.hub,
      settings: this.settings,
      accounts: this.hub.accounts,
      sasl: this.ctx.sasl,
      log: this.ctx.log,
      secureContext: this.secureContext,
      requestCert: this.requestCert,
      rejectUnauthorized: this.rejectUnauthorized,
      onClose: () => undefined, // the listener service tracks the transport
      clients: this.ctx.clients,
    }, transport);
  }

  async start(): Promise<ListenerInfo[]> {
    return this.ctx.listeners.open({
      // Half-open: after a client's FIN the stanzas it sent are handled before we close (connection.ts).
      halfOpen: true,
      tlsHandshakeTimeoutMs: this.settings.negotiationTimeoutMs,
      // Direct TLS (XEP-0368) next to STARTTLS asks for client certificates as STARTTLS does.
      tls: { requestCert: this.requestCert, rejectUnauthorized: this.rejectUnauthorized },
      socket: (socket, accepted) => {
        socket.setKeepAlive(true, 60000);
        const conn = this.newConnection({ socket, secure: accepted.kind === 'tls' });
        // Stopping: the stream error is written, the socket is not waited for.
        return { shutdown: () => { conn.streamError('system-shutdown'); socket.destroy(); } };
      },
      websocket: {
        path: this.settings.websocket.enabled ? this.settings.websocket.path : null,
        protocols: ['xmpp'],
        connection: (ws, accepted) => {
          const conn = this.newConnection({ ws, secure: false, remote: accepted.address, peer: accepted.socket });
          return { shutdown: () => conn.streamError('system-shutdown') };
        },
      },
    });
  }

  async stop(): Promise<void> {
    this.hub?.closeAll();
    await this.ctx.listeners.close();
  }
}

export default function createAdapter(): ProtocolAdapter {
  return new XmppAdapter();
}
