/**
 * Shared by the protocol benchmarks: free ports, a port probe, load-generator children that
 * report JSON lines, and RabbitMQ started as a peer on temporary directories and ports.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';

export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port }, () => { s.destroy(); resolve(true); });
    s.on('error', () => resolve(false));
  });
}

/** A node child running `script` with JSON `args`; every JSON line it prints goes to `onLine`. */
export function jsonLineChild(script: string, args: object, onLine: (o: Record<string, unknown>) => void): ChildProcess {
  const p = spawn(process.execPath, [script, JSON.stringify(args)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let buf = '';
  p.stdout!.on('data', (d) => {
    buf += d;
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      if (line.trim()) onLine(JSON.parse(line) as Record<string, unknown>);
    }
  });
  return p;
}

export interface Peer {
  port: number;
  stop(): Promise<void>;
  /** The server's OS process (RabbitMQ: beam.smp, from its pid file), for its RSS. */
  pid?: number;
  /** RabbitMQ: runs `rabbitmqctl ARGS` against this node; resolves with its output, rejects when it fails. */
  ctl?(...args: string[]): Promise<string>;
}

const RABBIT = '/usr/lib/rabbitmq/bin/rabbitmq-server';
const RABBITMQCTL = '/usr/lib/rabbitmq/bin/rabbitmqctl';
export const RABBIT_MISSING = 'rabbitmq-server not installed (apt-get install -y rabbitmq-server): RabbitMQ figures skipped';

export interface RabbitOptions {
  /** The plugin under test, e.g. `rabbitmq_stomp`. */
  plugin: string;
  /** Config key of the plugin's own listener (`stomp.listeners.tcp.1`); absent = the AMQP port itself. */
  listenerKey?: string;
  /** More rabbitmq.conf lines. */
  extraConfig?: string[];
  /** Wait after the port opens (some plugins come up after their port). */
  settleMs?: number;
}

/** RabbitMQ with one plugin, on temporary directories and ports; null when it is not installed. */
export async function startRabbitmq(dir: string, options: RabbitOptions): Promise<Peer | null> {
  if (!existsSync(RABBIT)) return null;
  const [amqp, dist, epmd] = [await freePort(), await freePort(), await freePort()];
  const port = options.listenerKey ? await freePort() : amqp;
  mkdirSync(join(dir, 'log'), { recursive: true });
  writeFileSync(join(dir, 'enabled_plugins'), `[${options.plugin}].\n`);
  const conf = [`listeners.tcp.1 = 127.0.0.1:${amqp}`, 'loopback_users = none', ...(options.extraConfig ?? [])];
  if (options.listenerKey) conf.push(`${options.listenerKey} = 127.0.0.1:${port}`);
  writeFileSync(join(dir, 'rabbitmq.conf'), conf.join('\n') + '\n');
  const env = {
    ...process.env, HOME: dir, RABBITMQ_HOME: '/usr/lib/rabbitmq', RABBITMQ_MNESIA_BASE: join(dir, 'mnesia'), RABBITMQ_LOG_BASE: join(dir, 'log'),
    RABBITMQ_NODENAME: `jbench${process.pid}x${port}@localhost`, RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, 'enabled_plugins'),
    RABBITMQ_CONFIG_FILE: join(dir, 'rabbitmq'), RABBITMQ_DIST_PORT: String(dist), ERL_EPMD_PORT: String(epmd), RABBITMQ_PID_FILE: join(dir, 'pid'),
  };
  // Our own epmd in the foreground (erl would start a daemon that outlives the bench), on its own port.
  const epmdProc = spawn('epmd', ['-port', String(epmd)], { stdio: 'ignore' });
  epmdProc.on('error', () => undefined);
  await new Promise((r) => setTimeout(r, 300));
  const p = spawn(RABBIT, [], { env, detached: true, stdio: 'ignore' });
  const ctl = (...args: string[]) => new Promise<string>((resolve, reject) => {
    const c = spawn(RABBITMQCTL, ['-n', env.RABBITMQ_NODENAME, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    c.stdout!.on('data', (d) => { out += d; });
    c.stderr!.on('data', (d) => { err += d; });
    c.on('error', reject);
    c.on('exit', (code) => (code ? reject(new Error(`rabbitmqctl ${args.join(' ')} exited with ${code}: ${err.trim()}`)) : resolve(out)));
  });
  const stop = async () => {
    try { process.kill(-p.pid!, 'SIGTERM'); } catch { /* gone */ }
    await new Promise((r) => setTimeout(r, 2000));
    try { process.kill(-p.pid!, 'SIGKILL'); } catch { /* gone */ }
    epmdProc.kill('SIGKILL');
  };
  for (let i = 0; i < 180; i++) {
    if (await canConnect(port)) {
      if (options.settleMs) await new Promise((r) => setTimeout(r, options.settleMs));
      // The pid file holds the Erlang VM's pid (the script's child), written during boot.
      let pid: number | undefined;
      try { pid = Number(readFileSync(join(dir, 'pid'), 'utf8').trim()) || undefined; } catch { /* not written */ }
      return { port, stop, pid, ctl };
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  await stop();
  throw new Error(`rabbitmq-server (${options.plugin}) did not open port ${port} within 90 s`);
}

export interface LoadPlan {
  name: string;
  /** The load generator script run in each child. */
  script: string;
  /** Arguments of each consumer child; each reports `{ready}` once subscribed. */
  consumers: object[];
  /** Arguments of each producer child, started once every consumer is ready. */
  producers: object[];
  /** Messages the consumers must report in `{progress: n}` lines, in total, to end the run. */
  total: number;
  /** When set, the run also ends once this many consumers have reported `{done}` (fan-out). */
  doneReports?: number;
  /** What the rate counts (messages or deliveries). */
  deliveries: number;
  /** Fails the run after this long (default 300 s). */
  timeoutMs?: number;
}

/**
 * Runs one load: consumers first, then producers; the clock runs from the producers' start until
 * the consumers have everything. Returns deliveries per second; fails when a child exits with an
 * error or after `timeoutMs` (300 s).
 */
export async function runLoad(plan: LoadPlan): Promise<number> {
  const procs: ChildProcess[] = [];
  let ready = 0;
  let progress = 0;
  let done = 0;
  let resolveReady!: () => void;
  let resolveDone!: () => void;
  let fail!: (e: Error) => void;
  const readyP = new Promise<void>((resolve, reject) => { resolveReady = resolve; fail = reject; });
  const doneP = new Promise<void>((resolve, reject) => {
    resolveDone = resolve;
    const prev = fail;
    fail = (e) => { prev(e); reject(e); };
  });
  readyP.catch(() => undefined);
  doneP.catch(() => undefined);
  const onLine = (o: Record<string, unknown>) => {
    if (o.ready && ++ready === plan.consumers.length) resolveReady();
    if (typeof o.progress === 'number') {
      progress += o.progress;
      if (progress >= plan.total) resolveDone();
    }
    if (o.done && plan.doneReports && ++done === plan.doneReports) resolveDone();
  };
  const start = (args: object, what: string, lines: (o: Record<string, unknown>) => void) => {
    const p = jsonLineChild(plan.script, args, lines);
    p.on('exit', (code) => { if (code) fail(new Error(`${what} exited with ${code}`)); });
    procs.push(p);
  };
  const timeoutMs = plan.timeoutMs ?? 300_000;
  const timer = setTimeout(() => fail(new Error(`${plan.name}: no result within ${timeoutMs / 1000} s`)), timeoutMs);
  try {
    for (const args of plan.consumers) start(args, 'consumer', onLine);
    await readyP;
    const t0 = process.hrtime.bigint();
    for (const args of plan.producers) start(args, 'producer', () => undefined);
    await doneP;
    return plan.deliveries / (Number(process.hrtime.bigint() - t0) / 1e9);
  } finally {
    clearTimeout(timer);
    for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL');
  }
}
