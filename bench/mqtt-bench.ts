/**
 * MQTT benchmark: Junction against Debian's mosquitto and RabbitMQ's MQTT plugin (each when
 * installed; started here on free ports with temporary files, stopped at the end), same machine,
 * same run, same load generator (bench/mqtt-loadgen.ts: npm `mqtt` clients, protocol 3.1.1, in a
 * child process). Every broker runs in its own process, so its CPU time and RSS are its own.
 *
 * - throughput, 100-byte payloads, QoS 0 and QoS 1, 1 -> 1 and 1 -> 50 (deliveries/s at the
 *   subscribers; the publisher stays at most a window ahead of the slowest subscriber, so nothing
 *   is dropped);
 * - end-to-end latency p50 / p99 at a fixed moderate rate (BENCH_MQTT_RATE, default 1000 msg/s),
 *   the median of BENCH_MQTT_LATENCY_RUNS (default 3) runs;
 * - memory per idle connection with BENCH_MQTT_CONNECTIONS (default 10,000) connections: the
 *   broker process's RSS delta.
 * BENCH_SECONDS (default 10) sets each timed phase. Generator and broker CPU use are printed next
 * to each figure (1.00 = one core busy): a generator near 1.00 is the bottleneck, not the broker.
 *
 *   npm run bench -- mqtt      or      node dist/bench/mqtt-bench.js
 *   node dist/bench/mqtt-bench.js --serve     (the Junction broker process the bench starts)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';

const SELF = fileURLToPath(import.meta.url);
const LOADGEN = fileURLToPath(new URL('./mqtt-loadgen.js', import.meta.url));
const SECONDS = Number(process.env.BENCH_SECONDS ?? '10') || 10;
const RATE = Number(process.env.BENCH_MQTT_RATE ?? '1000') || 1000;
const CONNECTIONS = Number(process.env.BENCH_MQTT_CONNECTIONS ?? '10000') || 10000;
const LATENCY_RUNS = Number(process.env.BENCH_MQTT_LATENCY_RUNS ?? '3') || 3;
const MOSQUITTO = '/usr/sbin/mosquitto';
const RABBIT = '/usr/lib/rabbitmq/bin/rabbitmq-server';
const CLK_TCK = 100;

interface Broker {
  name: string;
  port: number;
  pid: number;
  /** Asks the broker to collect garbage before a memory reading (Junction only). */
  gc?: () => Promise<void>;
  stop(): Promise<void>;
}

/** The broker instance running now (measure() restarts it for the memory phase). */
let current: Broker | null = null;

interface Figures {
  [scenario: string]: { value: number; unit: string; gen: number; broker: number; note?: string; extra?: string };
}

// ---- helpers ------------------------------------------------------------------------------------

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port }, () => { s.destroy(); resolve(true); });
    s.on('error', () => resolve(false));
  });
}

async function waitPort(port: number, what: string, seconds: number): Promise<void> {
  for (let i = 0; i < seconds * 4; i++) {
    if (await canConnect(port)) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${what} did not open port ${port} within ${seconds} s`);
}

/** CPU seconds used so far by a process (user + system). */
function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return NaN;
  }
}

function rssBytes(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : NaN;
  } catch {
    return NaN;
  }
}

interface LoadResult { [k: string]: number | string }

/** Runs the load generator; samples the broker's CPU between the two "mark" lines. */
function load(broker: Broker, args: object, onLine?: (o: Record<string, unknown>, child: ChildProcess) => void): Promise<LoadResult & { brokerCpu: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [LOADGEN, JSON.stringify({ port: broker.port, ...args })], { stdio: ['pipe', 'pipe', 'inherit'] });
    const marks: Array<[number, number]> = [];
    let result: LoadResult | null = null;
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (!line.trim()) return;
      const o = JSON.parse(line) as Record<string, unknown>;
      if (o.event === 'mark') marks.push([performance.now(), cpuSeconds(broker.pid)]);
      else if (o.event === 'result') result = o as LoadResult;
      else if (o.event === 'error') reject(new Error(String(o.message)));
      onLine?.(o, child);
    });
    child.on('exit', (code) => {
      if (!result) {
        if (!onLine) return reject(new Error(`load generator exited with ${code}`));
        return resolve({ brokerCpu: NaN });
      }
      const brokerCpu = marks.length >= 2 ? (marks[1][1] - marks[0][1]) / ((marks[1][0] - marks[0][0]) / 1000) : NaN;
      resolve({ ...(result as LoadResult), brokerCpu });
    });
  });
}

// ---- brokers ------------------------------------------------------------------------------------

async function startJunction(): Promise<Broker> {
  const child = spawn(process.execPath, ['--expose-gc', SELF, '--serve'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! });
  const waiters: Array<(l: string) => void> = [];
  lines.on('line', (l) => waiters.shift()?.(l));
  const next = (): Promise<string> => new Promise((r) => waiters.push(r));
  const { port } = JSON.parse(await next()) as { port: number };
  return {
    name: 'junction',
    port,
    pid: child.pid!,
    gc: async () => {
      child.stdin!.write('gc\n');
      await next();
    },
    stop: async () => {
      child.stdin!.end();
      await new Promise((r) => child.once('exit', r));
    },
  };
}

/** The Junction broker process: MQTT only, in memory (mosquitto runs without persistence too). */
async function serve(): Promise<void> {
  const { startBroker } = await import('../index.js');
  const b = await startBroker({
    inMemory: true, host: '127.0.0.1', logger: false, protocols: ['mqtt'], ports: { mqtt: 'auto', http: 0 },
    limits: { maxConnections: 1_000_000 } as never, mqtt: { maxConnections: -1 } as never,
  });
  process.stdout.write(`${JSON.stringify({ port: b.ports.mqtt })}\n`);
  const rl = createInterface({ input: process.stdin });
  rl.on('line', (l) => {
    if (l.trim() === 'gc') {
      (globalThis as { gc?: () => void }).gc?.();
      (globalThis as { gc?: () => void }).gc?.();
      process.stdout.write('ok\n');
    } else if (l.trim() === 'mem') {
      process.stdout.write(`${JSON.stringify(process.memoryUsage())}\n`);
    }
  });
  await new Promise<void>((resolve) => rl.once('close', () => resolve()));
  await b.close();
  process.exit(0);
}

async function startMosquitto(dir: string): Promise<Broker | null> {
  if (!existsSync(MOSQUITTO)) return null;
  const port = await freePort();
  const conf = join(dir, 'mosquitto.conf');
  // set_tcp_nodelay: mosquitto's default is off (Nagle); Junction always sets TCP_NODELAY.
  writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest none\nset_tcp_nodelay true\n`);
  const child = spawn(MOSQUITTO, ['-c', conf], { stdio: 'ignore' });
  await waitPort(port, 'mosquitto', 20);
  return {
    name: 'mosquitto',
    port,
    pid: child.pid!,
    stop: async () => {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    },
  };
}

async function startRabbit(dir: string): Promise<Broker | null> {
  if (!existsSync(RABBIT)) return null;
  const [amqp, port, dist, epmd] = [await freePort(), await freePort(), await freePort(), await freePort()];
  mkdirSync(join(dir, 'log'), { recursive: true });
  writeFileSync(join(dir, 'enabled_plugins'), '[rabbitmq_mqtt].\n');
  writeFileSync(join(dir, 'rabbitmq.conf'), `listeners.tcp.1 = 127.0.0.1:${amqp}\nmqtt.listeners.tcp.1 = 127.0.0.1:${port}\nloopback_users = none\nmqtt.allow_anonymous = true\n`);
  const pidFile = join(dir, 'pid');
  const env = {
    ...process.env, HOME: dir, RABBITMQ_HOME: '/usr/lib/rabbitmq', RABBITMQ_MNESIA_BASE: join(dir, 'mnesia'), RABBITMQ_LOG_BASE: join(dir, 'log'),
    RABBITMQ_NODENAME: `jmqttbench${process.pid}@localhost`, RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, 'enabled_plugins'),
    RABBITMQ_CONFIG_FILE: join(dir, 'rabbitmq'), RABBITMQ_DIST_PORT: String(dist), ERL_EPMD_PORT: String(epmd), RABBITMQ_PID_FILE: pidFile,
  };
  const p = spawn(RABBIT, [], { env, detached: true, stdio: 'ignore' });
  const stop = async (): Promise<void> => {
    try { process.kill(-p.pid!, 'SIGTERM'); } catch { /* gone */ }
    await new Promise((r) => setTimeout(r, 2000));
    try { process.kill(-p.pid!, 'SIGKILL'); } catch { /* gone */ }
    await new Promise<void>((resolve) => {
      const k = spawn('epmd', ['-kill'], { env: { ...process.env, ERL_EPMD_PORT: String(epmd) }, stdio: 'ignore' });
      k.on('exit', () => resolve());
      k.on('error', () => resolve());
    });
  };
  try {
    await waitPort(port, 'rabbitmq-server (MQTT)', 90);
  } catch (err) {
    await stop();
    throw err;
  }
  const pid = Number(readFileSync(pidFile, 'utf8').trim()) || p.pid!;
  return { name: 'rabbitmq', port, pid, stop };
}

// ---- scenarios ----------------------------------------------------------------------------------

async function measure(broker: Broker, restart: () => Promise<Broker>): Promise<Figures> {
  const f: Figures = {};
  const show = (key: string): void => {
    const x = f[key];
    const gen = Number.isFinite(x.gen) ? x.gen.toFixed(2) : '-';
    const br = Number.isFinite(x.broker) ? x.broker.toFixed(2) : '-';
    const flag = x.gen >= 0.9 ? '  <- generator near one full core' : '';
    console.log(`  ${broker.name.padEnd(10)} ${key.padEnd(30)} ${fmt(x.value).padStart(10)} ${x.unit.padEnd(14)} cpu: generator ${gen}, broker ${br}${x.extra ? `  ${x.extra}` : ''}${flag}`);
  };
  // Warm-up: JIT, first connections.
  await load(broker, { mode: 'throughput', qos: 0, subscribers: 1, seconds: 1, warmupSeconds: 0.5 });
  for (const qos of [0, 1] as const) {
    for (const subscribers of [1, 50]) {
      const key = `throughput QoS ${qos} 1->${subscribers}`;
      const r = await load(broker, { mode: 'throughput', qos, subscribers, seconds: SECONDS });
      const perMsg = (r.brokerCpu / Number(r.deliveries)) * 1e6;
      f[key] = { value: Number(r.deliveries), unit: 'deliveries/s', gen: Number(r.cpu), broker: r.brokerCpu, extra: `(broker ${perMsg.toFixed(2)} us CPU per delivery)` };
      show(key);
    }
  }
  for (const qos of [0, 1] as const) {
    const key = `latency QoS ${qos} @${RATE}/s`;
    // The median of a few runs: one burst of other work on the machine moves a p99 a lot.
    const runs: Array<LoadResult & { brokerCpu: number }> = [];
    for (let i = 0; i < LATENCY_RUNS; i++) runs.push(await load(broker, { mode: 'latency', qos, rate: RATE, seconds: SECONDS }));
    const median = (k: string): number => runs.map((x) => Number(x[k])).sort((x, y) => x - y)[Math.floor(runs.length / 2)];
    const r = runs[0];
    const all = (k: string): string => runs.map((x) => fmt(Number(x[k]))).join(' / ');
    f[`${key} p50`] = { value: median('p50'), unit: 'ms p50', gen: median('cpu'), broker: r.brokerCpu, extra: `(runs: ${all('p50')})` };
    f[`${key} p99`] = { value: median('p99'), unit: 'ms p99', gen: median('cpu'), broker: r.brokerCpu, extra: `(runs: ${all('p99')}; ${r.count}/${r.expected} received, max ${fmt(Number(r.max))} ms)` };
    show(`${key} p50`);
    show(`${key} p99`);
  }
  // Memory on a fresh broker process (earlier phases leave freed heap behind), after a warm-up.
  await broker.stop();
  broker = await restart();
  current = broker;
  await load(broker, { mode: 'idle', connections: 200 }, (o, child) => { if (o.event === 'connected') child.stdin!.write('done\n'); });
  await broker.gc?.();
  await new Promise((r) => setTimeout(r, 1000));
  const before = rssBytes(broker.pid);
  let after = NaN;
  let connected = 0;
  await load(broker, { mode: 'idle', connections: CONNECTIONS }, (o, child) => {
    if (o.event !== 'connected') return;
    connected = Number(o.connections);
    void (async () => {
      await new Promise((r) => setTimeout(r, 3000));
      await broker.gc?.();
      await new Promise((r) => setTimeout(r, 1000));
      after = rssBytes(broker.pid);
      child.stdin!.write('done\n');
    })();
  });
  const key = `memory per idle connection`;
  f[key] = { value: (after - before) / Math.max(1, connected), unit: 'bytes', gen: NaN, broker: NaN, extra: `(RSS ${mb(before)} -> ${mb(after)} MB with ${connected} connections)` };
  show(key);
  return f;
}

function fmt(n: number): string {
  if (!Number.isFinite(n)) return 'n/a';
  if (Math.abs(n) >= 100) return Math.round(n).toLocaleString('en-US');
  return n.toFixed(2);
}

function mb(n: number): string {
  return (n / 1024 / 1024).toFixed(1);
}

export async function runMqttBench(): Promise<void> {
  // Interrupted: stop the broker under test (mosquitto and RabbitMQ would outlive the bench).
  const interrupted = (): void => {
    void (current?.stop() ?? Promise.resolve()).finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    await runAll();
  } finally {
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
  }
}

async function runAll(): Promise<void> {
  console.log(`MQTT: 100-byte payloads, protocol 3.1.1, ${SECONDS} s per phase, latency at ${RATE} msg/s, ${CONNECTIONS} idle connections;`);
  console.log(`load generator: npm mqtt in a child process; ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), node ${process.version}`);
  const load0 = loadavg()[0];
  console.log(`load average at start: ${load0.toFixed(2)}${load0 > cpus().length * 0.5 ? '  (other work is running: wall-clock figures are disturbed; CPU per delivery is not)' : ''}`);
  const results: Record<string, Figures> = {};
  const dir = mkdtempSync(join(tmpdir(), 'junction-mqtt-bench-'));
  let rabbitRuns = 0;
  try {
    const starters: Array<[string, () => Promise<Broker | null>, string]> = [
      ['junction', startJunction, ''],
      ['mosquitto', () => startMosquitto(dir), 'mosquitto not installed (apt-get install -y mosquitto): mosquitto figures skipped'],
      ['rabbitmq', () => startRabbit(join(dir, `rabbit${++rabbitRuns}`)), 'rabbitmq-server not installed (apt-get install -y rabbitmq-server): RabbitMQ figures skipped'],
    ];
    for (const [name, start, missing] of starters) {
      let broker: Broker | null;
      try {
        broker = await start();
      } catch (err) {
        console.log(`  ${name}: could not start (${(err as Error).message}); skipped`);
        continue;
      }
      if (!broker) {
        console.log(`  ${missing}`);
        continue;
      }
      current = broker;
      try {
        results[name] = await measure(broker, async () => (await start())!);
      } catch (err) {
        console.log(`  ${name}: benchmark failed: ${(err as Error).message}`);
      } finally {
        await current?.stop();
        current = null;
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(`load average at end: ${loadavg()[0].toFixed(2)}`);
  const j = results.junction;
  if (!j) return;
  for (const peer of ['mosquitto', 'rabbitmq']) {
    const p = results[peer];
    if (!p) continue;
    console.log(`  ratios junction / ${peer} (throughput: higher is better; latency, memory: lower is better):`);
    for (const key of Object.keys(j)) {
      if (!p[key]) continue;
      console.log(`    ${key.padEnd(34)} ${(j[key].value / p[key].value).toFixed(2)}x`);
    }
  }
}

if (process.argv[1] && pathToFileURL(process.argv[1]).href === import.meta.url) {
  if (process.argv.includes('--serve')) {
    void serve();
  } else {
    runMqttBench().catch((err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    });
  }
}
