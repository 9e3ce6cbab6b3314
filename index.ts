/**
 * Junction's library entry: `startBroker()` runs a whole broker in-process (store, core, auth,
 * HTTP listener and every protocol adapter that exists) and returns its bound ports and close().
 * The CLI (bin/junction.js) is a thin wrapper around it.
 */
import { resolve } from 'node:path';
import { ADAPTER_NAMES, loadAdapters } from './adapters/index.js';
import { bindPort, ConfigError, loadConfig, type DeepPartial } from './config/load.js';
import type { JunctionConfig } from './config/schema.js';
import type { AdapterContext, ListenerInfo, Logger, ProtocolAdapter } from './core/adapter.js';
import { Broker, type BrokerOptions } from './core/broker.js';
import { ConnectionGate } from './core/connection-gate.js';
import { ConnectionRegistry } from './core/connection-registry.js';
import { FileStore } from './core/storage/file-store.js';
import { MemoryStore } from './core/storage/memory-store.js';
import type { Store } from './core/store.js';
import { AccessGuard, mountAdminApi, readPackageVersion, type AdminContext } from './plugins/admin/index.js';
import { createAuthPlugin, createSaslService, FileUserStore, MetadataUserStore, type JunctionAuth, type UserStore } from './plugins/auth/index.js';
import { mountConsole } from './plugins/console/index.js';
import { HttpListener } from './plugins/http/index.js';
import { mountMetrics } from './plugins/metrics/index.js';
import { ClusterNode } from './plugins/cluster/index.js';
import { mountClusterApi } from './plugins/cluster/api.js';
import { createTlsResolver } from './plugins/tls.js';
import { AdapterListeners, ConnectionRateLimiter } from './plugins/listeners/index.js';
import { declareStream } from './core/stream/declared-streams.js';
import { InvalidNameError } from './core/names.js';
import { SysTopics } from './plugins/sys/index.js';
import { createLogger as createJunctionLogger, listenerUrl } from './plugins/log/index.js';
import { clusterServers } from './plugins/cluster/config.js';

export { ClusterUnavailableError } from './plugins/cluster/index.js';
export { DataDirInUseError } from './core/storage/file-store.js';
export { createLogger, formatPretty, type LogFormat, type LoggerOptions } from './plugins/log/index.js';
export { loadConfig, ConfigError, bindPort, type DeepPartial, type LoadOptions } from './config/load.js';
export type * from './config/schema.js';
export type { AdapterContext, AuthPlugin, HttpHost, ListenerInfo, Logger, Principal, ProtocolAdapter } from './core/adapter.js';
export { Broker } from './core/broker.js';
export * as core from './core/index.js';
export { createAuthPlugin, createUserRecord, hashPassword, verifyPassword, FileUserStore, MemoryUserStore, MetadataUserStore } from './plugins/auth/index.js';
export type { JunctionAuth, UserRecord, UserStore } from './plugins/auth/index.js';

export type ListenerName = (typeof ADAPTER_NAMES)[number] | 'http';
/** A port for startBroker: a number (0 disables the listener) or 'auto' / -1 for an ephemeral port. */
export type PortOption = number | 'auto';

export interface StartOptions extends DeepPartial<JunctionConfig> {
  /** Storage directory (file engine). */
  dataDir?: string;
  /** Keep nothing on disk (MemoryStore). Same as storage: { engine: 'memory' }. */
  inMemory?: boolean;
  /** Listener ports, shorthand for `<listener>: { port }`. 'auto' or -1 = ephemeral, 0 = disabled. */
  ports?: Partial<Record<ListenerName, PortOption>>;
  /** Configuration file (YAML/JSON) read below these options. */
  configFile?: string;
  /** Command-line flags and environment (the CLI passes process.argv / process.env; default none). */
  argv?: string[];
  env?: Record<string, string | undefined>;
  /** Logger to use; false = silent. Default: pino to stdout at log.level if given, else 'warn'. */
  logger?: Logger | false;
  /** A store to use instead of the configured one. */
  store?: Store;
  /** Where users live instead of the users file (also receives run-time registrations). */
  userStore?: UserStore;
  /** Start only these protocol adapters (default: every one that exists). */
  protocols?: string[];
  /** Extra adapters started after the built-in ones (embedding, tests). */
  extraAdapters?: ProtocolAdapter[];
  /** Core options over those from the configuration (tests: a simulated cluster view). */
  coreOptions?: Partial<BrokerOptions>;
}

export interface RunningBroker {
  broker: Broker;
  config: JunctionConfig;
  auth: JunctionAuth;
  /** Bound ports by listener name (`mqtt`, `mqtt-tls`, `mqtt-ws`, `amqp`, ..., `http`); absent = not listening. */
  ports: Partial<Record<string, number>>;
  listeners: ListenerInfo[];
  http: HttpListener | null;
  log: Logger;
  /** Every client connection of every protocol (the admin API's list; per-user counts). */
  clients: ConnectionRegistry;
  /** Graceful shutdown: readiness off, adapters stop accepting and close, HTTP closes, store flushes. */
  close(): Promise<void>;
}

const PLATFORM_KEYS = ['dataDir', 'inMemory', 'ports', 'configFile', 'argv', 'env', 'logger', 'store', 'userStore', 'protocols', 'extraAdapters', 'coreOptions'];

function overridesFrom(options: StartOptions): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(options)) if (!PLATFORM_KEYS.includes(k) && v !== undefined) o[k] = v;
  const set = (section: string, key: string, value: unknown) => {
    o[section] = { ...((o[section] as object) ?? {}), [key]: value };
  };
  if (options.dataDir !== undefined) o.dataDir = options.dataDir;
  if (options.inMemory) set('storage', 'engine', 'memory');
  for (const [name, port] of Object.entries(options.ports ?? {})) if (port !== undefined) set(name, 'port', port);
  return o;
}

/** Core options from the configuration (the config says -1 for "no limit", the core says 0). */
export function brokerOptions(config: JunctionConfig): Partial<BrokerOptions> {
  const limit = (n: number) => (n > 0 ? n : 0);
  return {
    queueDefaults: {
      maxLength: limit(config.queues.maxLength),
      maxBytes: limit(config.queues.maxBytes),
      maxDeliveries: limit(config.queues.maxDeliveries),
      deadLetterOnExpiry: config.queues.deadLetterOnExpiry,
      priorities: config.queues.priorities,
    },
    deadLetterSuffix: config.queues.deadLetterSuffix,
    queueMemoryBytes: config.queues.memoryBytes,
    outboundMemoryBytes: limit(config.limits.outboundMemoryBytes),
    limits: {
      maxStreams: limit(config.limits.maxStreams),
      maxPartitions: limit(config.limits.maxPartitions),
      maxPartitionsPerTopic: limit(config.limits.maxPartitionsPerTopic),
      maxPartitionsPerUser: limit(config.limits.maxPartitionsPerUser),
      maxQueues: limit(config.limits.maxQueues),
      maxQueuesPerUser: limit(config.limits.maxQueuesPerUser),
    },
    streamDefaults: {
      partitions: config.streams.defaultPartitions,
      retentionMs: config.streams.retentionMs,
      retentionBytes: config.streams.retentionBytes,
      segmentBytes: config.streams.segmentBytes,
    },
  };
}

function createStore(config: JunctionConfig, log: Logger): Store {
  if (config.storage.engine === 'memory') return new MemoryStore();
  return new FileStore({
    dir: resolve(config.dataDir), fsync: config.storage.fsync, fsyncIntervalMs: config.storage.fsyncIntervalMs,
    maxOpenFiles: config.storage.maxOpenFiles, logger: log,
    maxDiskBytes: config.storage.maxDiskBytes > 0 ? config.storage.maxDiskBytes : undefined,
    snapshotEveryBytes: config.storage.snapshotEveryBytes,
  });
}

function createLogger(options: StartOptions): Logger {
  if (options.logger === false) return createJunctionLogger({ level: 'silent' });
  if (options.logger) return options.logger;
  return createJunctionLogger({ level: options.log?.level ?? 'warn', format: options.log?.format ?? 'auto' });
}

/** Mounts the admin API (`/api`), the metrics (`/metrics`) and the web console (`/`) on the HTTP listener. */
function mountManagement(http: HttpListener, ctx: AdminContext): { close(): void } {
  const guard = new AccessGuard(ctx.auth);
  mountAdminApi(http, ctx, guard);
  const metrics = mountMetrics(http, ctx, guard);
  mountConsole(http, ctx, guard);
  return metrics;
}

/** Starts a broker. Throws ConfigError for a bad configuration (before anything listens). */
export async function startBroker(options: StartOptions = {}): Promise<RunningBroker> {
  const startedAt = Date.now();
  // Built-in adapters' sections are part of config/schema.ts; an extra adapter brings its own.
  const sections = Object.fromEntries((options.extraAdapters ?? []).filter((a) => a.settingsSchema).map((a) => [a.name, a.settingsSchema!]));
  const config = loadConfig({ argv: options.argv, env: options.env, file: options.configFile, overrides: overridesFrom(options), sections });
  const tls = createTlsResolver(config);
  const log = createLogger(options);
  let store = options.store ?? createStore(config, log.child({ component: 'store' }));
  const servers = clusterServers(config.cluster);
  const cluster = servers.length > 0 ? await ClusterNode.join({ ...config.cluster, servers }, store, log.child({ component: 'cluster' })) : null;
  if (cluster) store = cluster.store;
  const broker = new Broker(store, { ...brokerOptions(config), log: log.child({ component: 'broker' }), ...(cluster ? { cluster } : {}), ...options.coreOptions });
  try {
    await broker.open();
    await cluster?.start(broker);
  } catch (err) {
    await cluster?.leave();
    await cluster?.close();
    throw err;
  }

  const started: ProtocolAdapter[] = [];
  let http: HttpListener | null = null;
  let management: { close(): void } | null = null;
  const listeners: ListenerInfo[] = [];
  const gates: ConnectionGate[] = [];
  const clients = new ConnectionRegistry({ maxConnectionsPerUser: Math.max(0, config.limits.maxConnectionsPerUser), log: log.child({ component: 'connections' }) });
  let sys: SysTopics | null = null;
  try {
    for (const [i, d] of config.streams.declare.entries()) {
      try {
        const outcome = await declareStream(broker, d);
        const s = broker.getStream(d.name)!;
        log.info({ stream: d.name, patterns: s.config.patterns, partitions: s.partitions.length, outcome }, 'stream declared');
      } catch (err) {
        if (err instanceof InvalidNameError) throw new ConfigError(`streams.declare[${i}] (${d.name}): ${err.message}`);
        throw err;
      }
    }
    const users = options.userStore ?? (config.auth.usersFile ? new FileUserStore(config.auth.usersFile) : null);
    const auth = await createAuthPlugin({
      config: config.auth,
      users: users ?? undefined,
      registrations: users ?? new MetadataUserStore(() => broker.metadata),
      secrets: broker.metadata,
      log: log.child({ component: 'auth' }),
    });
    const sasl = createSaslService(auth, tls);
    const rate = new ConnectionRateLimiter(config.limits.connectionRate, log.child({ component: 'listeners' }));
    const httpPort = bindPort(config.http.port);
    if (httpPort !== null) {
      http = new HttpListener({
        config: config.http, host: config.host, port: httpPort, maxConnections: config.limits.maxConnections, tls: tls('http'), rate, log: log.child({ component: 'http' }),
      });
    }
    const adapters = [...(await loadAdapters(options.protocols)), ...(options.extraAdapters ?? [])];
    for (const adapter of adapters) {
      const section = (config as unknown as Record<string, { port?: number; tlsPort?: number } | undefined>)[adapter.name] ?? {};
      const adapterLog = log.child({ adapter: adapter.name });
      const gate = new ConnectionGate(adapter.name, config.limits.maxConnections, adapterLog, clients);
      const listenerTls = tls(adapter.name);
      const listen = { host: config.host, port: bindPort(section.port), tlsPort: listenerTls ? bindPort(section.tlsPort) : null };
      const ctx: AdapterContext = {
        broker,
        config,
        auth,
        sasl,
        log: adapterLog,
        http,
        listen,
        tls,
        listeners: new AdapterListeners({ protocol: adapter.name, ...listen, tls: listenerTls, http, gate, rate, log: adapterLog }),
        clients: gate.clients,
      };
      gates.push(gate);
      await adapter.init(ctx);
    }
    if (http && cluster) mountClusterApi(http, cluster, new AccessGuard(auth));
    // After the adapters, so a route an adapter mounts under /api/ is matched before the admin API's.
    if (http) {
      management = mountManagement(http, {
        broker, auth, listeners: () => listeners, version: readPackageVersion(), startedAt, log: log.child({ component: 'admin' }),
        connections: clients, dataDir: config.storage.engine === 'file' ? resolve(config.dataDir) : null,
      });
    }
    if (http) listeners.push(await http.start());
    for (const adapter of adapters) {
      started.push(adapter);
      listeners.push(...(await adapter.start()));
    }
    sys = new SysTopics({
      broker, intervalSeconds: config.sys.intervalSeconds, version: readPackageVersion(), startedAt,
      connections: () => gates.reduce((n, g) => n + g.count, 0), log: log.child({ component: 'sys' }),
    });
    sys.start();
    await cluster?.advertise(listeners, { host: config.kafka.advertisedHost ?? null, port: config.kafka.advertisedPort ?? null });
    http?.setReady(true);
    const ports: Partial<Record<string, number>> = {};
    for (const l of listeners) {
      ports[l.name] ??= l.port;
      log.info({ listener: l.name, url: listenerUrl(l) }, 'listening');
    }
    // The names these two listeners had before `<protocol>-tls`: still readable, not listed.
    for (const [was, now] of [['mqtts', 'mqtt-tls'], ['amqps', 'amqp-tls']]) {
      if (ports[now] !== undefined) Object.defineProperty(ports, was, { value: ports[now], enumerable: false });
    }
    log.info(settingsLine(config, auth, cluster !== null), 'settings');
    log.info({ ports, dataDir: config.storage.engine === 'file' ? resolve(config.dataDir) : null }, 'junction started');

    let closing: Promise<void> | undefined;
    const stopSys = sys;
    const close = () => (closing ??= stopSys.stop().then(() => shutdown(log, broker, http, started, cluster)).finally(() => management?.close()));
    return { broker, config, auth, ports, listeners, http, log, clients, close };
  } catch (err) {
    await sys?.stop();
    await shutdown(log, broker, http, started, cluster).catch(() => undefined);
    management?.close();
    throw err;
  }
}

/** The one start-up line saying who may connect and where and how messages are kept. */
function settingsLine(config: JunctionConfig, auth: JunctionAuth, clustered: boolean): Record<string, unknown> {
  const users = auth.usersConfigured ? `users (${auth.userCount})` : 'no users';
  const mode = auth.anonymousAllowed ? (auth.usersConfigured ? `${users}, anonymous allowed` : 'anonymous (no users)') : `${users}, anonymous refused`;
  const file = config.storage.engine === 'file';
  return {
    auth: mode,
    ...(config.auth.usersFile ? { usersFile: resolve(config.auth.usersFile) } : {}),
    storage: clustered ? 'cluster' : config.storage.engine,
    dataDir: file ? resolve(config.dataDir) : null,
    fsync: file ? config.storage.fsync : null,
  };
}

async function shutdown(log: Logger, broker: Broker, http: HttpListener | null, adapters: ProtocolAdapter[], cluster: ClusterNode | null): Promise<void> {
  http?.setReady(false);
  // Leave first: the other nodes take this node's partitions over while its clients disconnect.
  await cluster?.leave();
  for (const adapter of [...adapters].reverse()) {
    try {
      await adapter.stop();
    } catch (err) {
      log.error({ err, adapter: adapter.name }, 'adapter failed to stop cleanly');
    }
  }
  if (http) await http.stop();
  await broker.close();
  await cluster?.close();
  log.info({}, 'junction stopped');
}
