/**
 * One Junction node as a child process (`node bin/junction.js start ...`), so it can be killed
 * with SIGKILL and restarted on the same data directory and ports. Started means: its HTTP
 * /readyz answers 200.
 */
import { Child, waitUntil } from './child.js';
import { OutputTail } from './output.js';
import { JUNCTION_BIN, PROJECT_ROOT } from './paths.js';

export const LISTENERS = ['mqtt', 'amqp', 'stomp', 'xmpp', 'kafka', 'http'] as const;
export type Listener = (typeof LISTENERS)[number];
export type JunctionPorts = Record<Listener, number>;

export interface JunctionNodeSpec {
  /** Name used in messages and log prefixes, e.g. "node-1". */
  name: string;
  host: string;
  dataDir: string;
  /** Every listener's port; http must be set (readiness is polled there). */
  ports: JunctionPorts;
  /** NATS URLs: passed as --cluster URL1,URL2,... (with --node-id) when given. */
  cluster?: string[];
  nodeId?: number;
  logLevel?: string;
  /** Further `junction start` arguments, after the ones above (later flags win). */
  args?: string[];
  /** JUNCTION_* variables for the node; inherited JUNCTION_* variables are dropped. */
  env?: Record<string, string>;
}

export interface JunctionNodeOptions {
  detached?: boolean;
  onLine?: (line: string) => void;
  readyTimeoutMs?: number;
}

export function junctionStartArgs(spec: JunctionNodeSpec): string[] {
  const args = ['start', '--data-dir', spec.dataDir, '--host', spec.host];
  for (const l of LISTENERS) args.push(`--${l}-port`, String(spec.ports[l]));
  if (spec.cluster?.length) args.push('--cluster', spec.cluster.join(','));
  if (spec.nodeId !== undefined) args.push('--node-id', String(spec.nodeId));
  if (spec.logLevel) args.push('--log-level', spec.logLevel);
  return [...args, ...(spec.args ?? [])];
}

function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('JUNCTION_')) env[k] = v;
  return { ...env, ...extra };
}

async function answersReady(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    await res.arrayBuffer();
    return res.status === 200;
  } catch {
    return false;
  }
}

export class JunctionNode {
  private child?: Child;
  private starts = 0;
  private readonly history = new OutputTail();

  constructor(
    readonly spec: JunctionNodeSpec,
    private readonly options: JunctionNodeOptions = {},
  ) {
    if (!(spec.ports.http > 0)) throw new Error(`${spec.name}: an HTTP port is needed to poll /readyz`);
  }

  get ports(): JunctionPorts {
    return this.spec.ports;
  }

  get name(): string {
    return this.spec.name;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child?.running ?? false;
  }

  /** Exit of the current process: its code, or null when a signal ended it. */
  get exited(): Promise<number | null> {
    return this.child?.exited ?? Promise.resolve(null);
  }

  /** Starts the node and waits until /readyz answers 200; rejects (with its output) if it exits first. */
  async start(): Promise<void> {
    if (this.running) throw new Error(`${this.name} is already running`);
    if (this.starts++ > 0) this.history.write(`--- ${this.name}: start #${this.starts} ---\n`);
    const child = new Child({
      name: this.name,
      command: process.execPath,
      args: [JUNCTION_BIN, ...junctionStartArgs(this.spec)],
      cwd: PROJECT_ROOT,
      env: childEnv(this.spec.env),
      detached: this.options.detached,
      onLine: (line) => {
        this.history.write(`${line}\n`);
        this.options.onLine?.(line);
      },
    });
    this.child = child;
    const url = `http://${this.spec.host.includes(':') ? `[${this.spec.host}]` : this.spec.host}:${this.spec.ports.http}/readyz`;
    try {
      await waitUntil(child, '/readyz 200', () => answersReady(url), this.options.readyTimeoutMs ?? 30000, 100);
    } catch (err) {
      await child.kill('SIGKILL');
      throw err;
    }
  }

  /** Sends `signal` (SIGKILL by default) and waits for the exit. */
  kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<number | null> {
    return this.child?.kill(signal) ?? Promise.resolve(null);
  }

  /** SIGTERM (graceful shutdown), SIGKILL after `graceMs`; resolves with the exit code. */
  stop(graceMs?: number): Promise<number | null> {
    return this.child?.stop(graceMs) ?? Promise.resolve(null);
  }

  /** Stops the node if it runs, then starts it again with the same ports and data directory. */
  async restart(): Promise<void> {
    if (this.running) await this.stop();
    await this.start();
  }

  /** The last output (bounded) of every start so far, each restart marked by a line. */
  output(): string {
    return this.history.toString();
  }
}
