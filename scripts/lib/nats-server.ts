/**
 * One nats-server of a JetStream cluster: its configuration file and its process. The store
 * directory holds both the configuration (nats.conf) and JetStream's data (jetstream/), so a
 * restart with the same directory resumes where the server left off.
 */
import { accessSync, constants, mkdirSync, writeFileSync } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';
import { Child, waitUntil } from './child.js';

/** Debian's nats-server installs to /usr/sbin, which is not on every user's PATH. */
const FALLBACK_BINARY = '/usr/sbin/nats-server';

/** $NATS_SERVER_BIN, nats-server on PATH, or /usr/sbin/nats-server; undefined when none is there. */
export function findNatsServer(): string | undefined {
  const candidates = [process.env.NATS_SERVER_BIN, ...(process.env.PATH ?? '').split(delimiter).filter(Boolean).map((d) => join(d, 'nats-server')), FALLBACK_BINARY];
  for (const c of candidates) {
    if (!c) continue;
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      /* next */
    }
  }
  return undefined;
}

export interface NatsServerSpec {
  /** server_name, unique in the cluster (JetStream clustering requires one). */
  name: string;
  host: string;
  port: number;
  clusterPort: number;
  clusterName: string;
  /** Route (cluster) ports of every server, this one included: nats-server ignores the route to itself. */
  routePorts: number[];
  /** Holds nats.conf and JetStream's store. */
  dir: string;
  maxPayload?: string;
}

export function natsServerConfig(spec: NatsServerSpec): string {
  const q = (s: string): string => JSON.stringify(s);
  const routes = spec.routePorts.map((p) => `    nats-route://${spec.host}:${p}`).join('\n');
  return `# Written by Junction's scripts/lib/nats-server.ts
server_name: ${q(spec.name)}
listen: ${q(`${spec.host}:${spec.port}`)}
# Kafka record batches travel as one message each; the default 1 MB is too small.
max_payload: ${spec.maxPayload ?? '8MB'}

jetstream {
  store_dir: ${q(resolve(spec.dir))}
  max_memory_store: 256MB
  max_file_store: 2GB
}

cluster {
  name: ${q(spec.clusterName)}
  listen: ${q(`${spec.host}:${spec.clusterPort}`)}
  routes: [
${routes}
  ]
}
`;
}

export interface NatsServerOptions {
  detached?: boolean;
  onLine?: (line: string) => void;
  startTimeoutMs?: number;
}

/** A nats-server process; start() again after kill() reuses the same configuration and store. */
export class NatsServer {
  private child?: Child;

  constructor(
    readonly spec: NatsServerSpec,
    private readonly binary: string,
    private readonly options: NatsServerOptions = {},
  ) {}

  get url(): string {
    return `nats://${this.spec.host}:${this.spec.port}`;
  }

  get running(): boolean {
    return this.child?.running ?? false;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get exited(): Promise<number | null> {
    return this.child?.exited ?? Promise.resolve(null);
  }

  /** Writes the configuration and starts the server; resolves once it logs "Server is ready". */
  async start(): Promise<void> {
    if (this.running) throw new Error(`${this.spec.name} is already running`);
    mkdirSync(this.spec.dir, { recursive: true });
    const conf = join(this.spec.dir, 'nats.conf');
    writeFileSync(conf, natsServerConfig(this.spec));
    let ready = false;
    const child = new Child({
      name: this.spec.name,
      command: this.binary,
      args: ['-c', conf],
      detached: this.options.detached,
      onLine: (line) => {
        // Our own process's line, not a TCP probe that another server on the port could answer.
        if (line.includes('Server is ready')) ready = true;
        this.options.onLine?.(line);
      },
    });
    this.child = child;
    await waitUntil(child, 'readiness', () => ready, this.options.startTimeoutMs ?? 20000, 20);
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<number | null> {
    return this.child?.kill(signal) ?? Promise.resolve(null);
  }

  stop(graceMs?: number): Promise<number | null> {
    return this.child?.stop(graceMs) ?? Promise.resolve(null);
  }

  output(): string {
    return this.child?.output() ?? '';
  }
}
