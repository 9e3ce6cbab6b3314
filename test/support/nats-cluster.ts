/**
 * A NATS JetStream cluster for tests: `servers` nats-server processes (Debian's nats-server) on
 * 127.0.0.1 with ephemeral client and route ports, each with its own temporary store directory.
 *
 *   before(requireNatsServer);
 *   const nats = await startNatsCluster({ servers: 3 });   // JetStream answers through every server
 *   nats.urls;                 // ['nats://127.0.0.1:port', ...]
 *   await nats.kill(1);        // SIGKILL (or another signal); resolves once it is gone
 *   await nats.restart(1);     // same config and store; resolves once JetStream answers through it
 *   await nats.stop();         // every server, then the temporary directories
 *
 * Servers still running when the test process exits are SIGKILLed (scripts/lib/child.ts).
 */
import { freePorts } from '../../scripts/lib/ports.js';
import { findNatsServer } from '../../scripts/lib/nats-server.js';
import { NatsCluster } from '../../scripts/lib/nats-cluster.js';
import { removeTempDir, tempDir, TEST_HOST } from './broker.js';
import { skipUnlessDebianClient } from './debian.js';

export interface NatsClusterOptions {
  servers?: number;
  /** Print every server's log lines to stderr (also with JUNCTION_TEST_LOG set). */
  verbose?: boolean;
}

export interface TestNatsCluster {
  urls: string[];
  /** Sends `signal` (default SIGKILL) to server i (0-based); resolves with its exit. */
  kill(i: number, signal?: NodeJS.Signals): Promise<number | null>;
  /** Starts server i again with the same configuration and store directory. */
  restart(i: number): Promise<void>;
  /** Stops every server (SIGTERM, then SIGKILL) and removes the store directories. */
  stop(): Promise<void>;
  /** Log output of server i (bounded), for failure messages. */
  output(i: number): string;
  cluster: NatsCluster;
}

/**
 * A mocha hook: skips when nats-server is missing (fails under CI=true). Debian puts it in
 * /usr/sbin, which may be missing from PATH, so that path counts as well.
 */
export function requireNatsServer(this: Mocha.Context): void {
  if (findNatsServer()) return;
  skipUnlessDebianClient(this, 'nats-server', 'nats-server');
}

export async function startNatsCluster(options: NatsClusterOptions = {}): Promise<TestNatsCluster> {
  const binary = findNatsServer();
  if (!binary) throw new Error('nats-server not found (apt-get install -y nats-server); use before(requireNatsServer)');
  const n = options.servers ?? 3;
  const dir = tempDir('junction-nats-');
  const ports = await freePorts(2 * n, TEST_HOST);
  const verbose = options.verbose ?? Boolean(process.env.JUNCTION_TEST_LOG);
  const cluster = new NatsCluster({ servers: n, host: TEST_HOST, ports: ports.slice(0, n), clusterPorts: ports.slice(n), baseDir: dir }, binary, (i) => ({
    onLine: verbose ? (line) => process.stderr.write(`[nats-${i + 1}] ${line}\n`) : undefined,
  }));
  try {
    await cluster.start();
  } catch (err) {
    removeTempDir(dir);
    throw err;
  }
  return {
    urls: cluster.urls,
    cluster,
    kill: (i, signal) => cluster.kill(i, signal),
    restart: (i) => cluster.restart(i),
    output: (i) => cluster.servers[i]?.output() ?? '',
    stop: async () => {
      await cluster.stop();
      removeTempDir(dir);
    },
  };
}
