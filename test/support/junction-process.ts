/**
 * A Junction node as a child process, for tests that kill it with SIGKILL: every listener on a
 * port chosen free beforehand (so a restart binds the same ones), on 127.0.0.1, started when its
 * HTTP /readyz answers 200.
 *
 *   const node = await startJunctionProcess({ dataDir });          // or { cluster: nats.urls, nodeId: 1 }
 *   node.ports.kafka; await node.kill(); await node.restart(); await node.stop();
 *
 * The node's output is kept (bounded) in node.output() for failure messages; a node still running
 * when the test process exits is SIGKILLed.
 */
import { JunctionNode, LISTENERS, type JunctionPorts } from '../../scripts/lib/junction-node.js';
import { freePorts } from '../../scripts/lib/ports.js';
import { removeTempDir, tempDir, TEST_HOST } from './broker.js';

export type { JunctionPorts };

export interface JunctionProcessOptions {
  /** Data directory; default a fresh temporary one, removed by stop(). */
  dataDir?: string;
  /** NATS URLs for --cluster (with nodeId for --node-id). */
  cluster?: string[];
  nodeId?: number;
  /** Further `junction start` flags. */
  args?: string[];
  env?: Record<string, string>;
  /** Default: info, or JUNCTION_TEST_LOG when set (then output is also printed to stderr). */
  logLevel?: string;
  name?: string;
}

export interface JunctionProcess {
  ports: JunctionPorts;
  dataDir: string;
  node: JunctionNode;
  /** Exit of the current process (code, or null for a signal). */
  readonly exited: Promise<number | null>;
  /** Sends `signal` (default SIGKILL); resolves with the exit. */
  kill(signal?: NodeJS.Signals): Promise<number | null>;
  /** SIGTERM and wait for the exit; removes the data directory when the fixture made it. */
  stop(): Promise<number | null>;
  /** Starts again with the same ports and data directory (stopping first if it runs). */
  restart(): Promise<void>;
  output(): string;
}

export async function startJunctionProcess(options: JunctionProcessOptions = {}): Promise<JunctionProcess> {
  const ownDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? tempDir('junction-node-');
  const free = await freePorts(LISTENERS.length, TEST_HOST);
  const ports = Object.fromEntries(LISTENERS.map((l, i) => [l, free[i]])) as JunctionPorts;
  const testLog = process.env.JUNCTION_TEST_LOG;
  const name = options.name ?? (options.nodeId !== undefined ? `node-${options.nodeId}` : 'junction');
  const node = new JunctionNode(
    { name, host: TEST_HOST, dataDir, ports, cluster: options.cluster, nodeId: options.nodeId, args: options.args, env: options.env, logLevel: options.logLevel ?? testLog ?? 'info' },
    { onLine: testLog ? (line) => process.stderr.write(`[${name}] ${line}\n`) : undefined },
  );
  try {
    await node.start();
  } catch (err) {
    if (ownDir) removeTempDir(dataDir);
    throw err;
  }
  return {
    ports,
    dataDir,
    node,
    get exited() {
      return node.exited;
    },
    kill: (signal) => node.kill(signal),
    restart: () => node.restart(),
    output: () => node.output(),
    stop: async () => {
      const code = await node.stop();
      if (ownDir) removeTempDir(dataDir);
      return code;
    },
  };
}
