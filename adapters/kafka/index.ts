/**
 * The Kafka wire protocol adapter: a TCP (and TLS) listener speaking Kafka's binary protocol to
 * real Kafka clients over the core. A Kafka topic is the core stream of the same name; produced
 * record batches are stored as received and fetched without re-encoding; consumer groups are
 * coordinated here with their offsets in the core. See docs/kafka.md.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import type { AdapterContext, ListenerInfo, ProtocolAdapter } from '../../core/adapter.js';
import { kafkaSchema, resolveKafkaSettings } from './config.js';
import { KafkaConnection } from './connection.js';
import type { KafkaServices } from './context.js';
import { GroupCoordinator } from './group/coordinator.js';
import { Topics } from './topics.js';

export { kafkaSchema, resolveKafkaSettings, DEFAULT_KAFKA_SETTINGS, type KafkaSettings } from './config.js';

export class KafkaAdapter implements ProtocolAdapter {
  readonly name = 'kafka';
  readonly settingsSchema = kafkaSchema;
  private ctx!: AdapterContext;
  private services!: KafkaServices;
  private servers: Server[] = [];
  private readonly connections = new Set<KafkaConnection>();

  async init(ctx: AdapterContext): Promise<void> {
    this.ctx = ctx;
    const settings = resolveKafkaSettings(ctx.config);
    // In a cluster the Kafka broker id is the node id.
    if (ctx.broker.cluster.clustered) settings.nodeId = ctx.broker.cluster.nodeId;
    const log = ctx.log;
    const usersExist = ((ctx.auth as unknown as { userCount?: number }).userCount ?? 0) > 0;
    this.services = {
      broker: ctx.broker,
      settings,
      auth: ctx.auth,
      sasl: ctx.sasl,
      log,
      topics: new Topics(ctx.broker, settings, log),
      groups: new GroupCoordinator(ctx.broker, { initialRebalanceDelayMs: settings.groupInitialRebalanceDelayMs }),
      authRequired: !ctx.auth.anonymousAllowed,
      clients: ctx.connections.clients,
    };
    if (usersExist && ctx.auth.anonymousAllowed) log.debug({}, 'kafka: SASL offered, anonymous clients allowed');
  }

  async start(): Promise<ListenerInfo[]> {
    const { host, port, tlsPort } = this.ctx.listen;
    const listeners: ListenerInfo[] = [];
    if (port !== null) listeners.push(await this.listen(createServer(), host, port, false));
    if (tlsPort !== null) {
      const tls = this.ctx.tls('kafka');
      if (tls) listeners.push(await this.listen(createTlsServer({ ...tls, handshakeTimeout: this.services.settings.handshakeTimeoutMs }), host, tlsPort, true));
    }
    return listeners;
  }

  private listen(server: Server, host: string, port: number, tls: boolean): Promise<ListenerInfo> {
    return new Promise((resolve, reject) => {
      // Admission on the TCP socket, before any TLS or Kafka work; a refused socket is destroyed.
      server.on('connection', (socket: Socket) => {
        if (this.ctx.connections.admit(socket, socket.remoteAddress) && !tls) this.accept(socket, server, false);
      });
      if (tls) server.on('secureConnection', (socket: Socket) => this.accept(socket, server, true));
      server.on('tlsClientError', (err: Error) => this.services.log.debug({ err: err.message }, 'kafka TLS handshake failed'));
      server.once('error', reject);
      server.listen(port === -1 ? 0 : port, host, () => {
        server.off('error', reject);
        server.on('error', (err) => this.services.log.error({ err: err.message }, 'kafka listener error'));
        this.servers.push(server);
        const address = server.address();
        const bound = typeof address === 'object' && address ? address.port : port;
        resolve({ name: tls ? 'kafka-tls' : 'kafka', protocol: 'kafka', host, port: bound, tls });
      });
    });
  }

  private accept(socket: Socket, server: Server, tls: boolean): void {
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    const conn = new KafkaConnection(socket, this.services, port, tls);
    this.connections.add(conn);
    void conn.closed.then(() => this.connections.delete(conn));
  }

  async stop(): Promise<void> {
    const closing = this.servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve())));
    for (const c of this.connections) c.close('broker stopping');
    this.connections.clear();
    this.services?.groups.shutdown();
    await Promise.all(closing);
    this.servers = [];
  }
}

export default function createAdapter(): ProtocolAdapter {
  return new KafkaAdapter();
}
