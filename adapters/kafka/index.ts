/**
 * The Kafka wire protocol adapter: a TCP (and TLS) listener speaking Kafka's binary protocol to
 * real Kafka clients over the core. A Kafka topic is the core stream of the same name; produced
 * record batches are stored as received and fetched without re-encoding; consumer groups are
 * coordinated here with their offsets in the core. See docs/kafka.md.
 */
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
      clients: ctx.clients,
    };
    if (usersExist && ctx.auth.anonymousAllowed) log.debug({}, 'kafka: SASL offered, anonymous clients allowed');
  }

  async start(): Promise<ListenerInfo[]> {
    const { settings } = this.services;
    return this.ctx.listeners.open({
      socket: (socket, accepted) => {
        const conn = new KafkaConnection(socket, this.services, socket.localPort ?? 0, accepted);
        this.connections.add(conn);
        void conn.closed.then(() => this.connections.delete(conn));
        return conn;
      },
      tlsHandshakeTimeoutMs: settings.handshakeTimeoutMs,
      // Kafka's connections.max.idle.ms: KafkaConnection.idle() keeps one whose Fetch is parked.
      idleTimeoutMs: settings.idleTimeoutMs,
    });
  }

  async stop(): Promise<void> {
    await this.ctx.listeners.close();
    this.services?.groups.shutdown();
  }
}

export default function createAdapter(): ProtocolAdapter {
  return new KafkaAdapter();
}
