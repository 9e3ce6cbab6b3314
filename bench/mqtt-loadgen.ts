/**
 * The MQTT load generator (a child process of bench/mqtt-bench.ts, so the broker under test and
 * the clients never share an event loop): npm `mqtt` clients, protocol 3.1.1, 100-byte payloads.
 *
 *   node dist/bench/mqtt-loadgen.js '{"mode":"throughput","port":1883,"qos":0,"subscribers":50,"seconds":10}'
 *
 * Modes:
 * - throughput: 1 publisher -> N subscribers on one topic. The publisher keeps at most `window`
 *   messages ahead of the slowest subscriber (end to end), so the figure is what the broker
 *   sustains without dropping. Reports deliveries/s at the subscribers over the measured window.
 * - latency: 1 -> 1 at a fixed rate; publish-to-receive latency p50/p99 (the send time travels in
 *   the payload; publisher and subscriber share this process's clock).
 * - idle: opens N idle connections, prints "connected", waits for a line on stdin, then closes.
 * Each result line is JSON on stdout; {"event":"mark"} lines bracket the measured window so the
 * parent can sample the broker's CPU time; `cpu` is this process's CPU use over the window (1 = one core).
 */
import mqtt, { type MqttClient } from 'mqtt';
import { createInterface } from 'node:readline';

interface Args {
  mode: 'throughput' | 'latency' | 'idle';
  port: number;
  host?: string;
  qos?: 0 | 1;
  subscribers?: number;
  seconds?: number;
  window?: number;
  rate?: number;
  connections?: number;
  warmupSeconds?: number;
}

const PAYLOAD = 100;
const emit = (o: object): void => { process.stdout.write(`${JSON.stringify(o)}\n`); };
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function client(a: Args, id: string, keepalive = 60): Promise<MqttClient> {
  const c = await mqtt.connectAsync(`mqtt://${a.host ?? '127.0.0.1'}:${a.port}`, { clientId: id, protocolVersion: 4, clean: true, keepalive, reconnectPeriod: 0, connectTimeout: 30_000 });
  // No Nagle on the client side either: latency figures measure the broker, not delayed ACKs.
  (c.stream as unknown as { setNoDelay?: (v: boolean) => void }).setNoDelay?.(true);
  return c;
}

async function throughput(a: Args): Promise<void> {
  const qos = a.qos ?? 0;
  const n = a.subscribers ?? 1;
  const seconds = a.seconds ?? 10;
  const window = a.window ?? (qos === 0 ? 2000 : 1000);
  const topic = `bench/tp/${process.pid}/${Date.now()}`;
  const counts = new Array<number>(n).fill(0);
  let received = 0;
  let sent = 0;
  let running = true;
  let scheduled = false;
  const subs: MqttClient[] = [];
  for (let i = 0; i < n; i++) {
    const c = await client(a, `bench-sub-${process.pid}-${i}`);
    c.on('message', () => {
      counts[i]++;
      received++;
      if (!scheduled) {
        scheduled = true;
        setImmediate(pump);
      }
    });
    await c.subscribeAsync(topic, { qos });
    subs.push(c);
  }
  const pub = await client(a, `bench-pub-${process.pid}`);
  const payload = Buffer.alloc(PAYLOAD, 0x61);
  function pump(): void {
    scheduled = false;
    if (!running) return;
    let min = counts[0];
    for (let i = 1; i < n; i++) if (counts[i] < min) min = counts[i];
    let room = window - (sent - min);
    while (room-- > 0) {
      pub.publish(topic, payload, { qos });
      sent++;
    }
  }
  pump();
  await sleep((a.warmupSeconds ?? 1) * 1000);
  emit({ event: 'mark' });
  const r0 = received;
  const s0 = sent;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await sleep(seconds * 1000);
  const elapsed = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const r1 = received;
  const s1 = sent;
  emit({ event: 'mark' });
  running = false;
  emit({
    event: 'result', deliveries: (r1 - r0) / elapsed, published: (s1 - s0) / elapsed, elapsed,
    cpu: (cpu.user + cpu.system) / 1e6 / elapsed, sent, received,
  });
  await Promise.all([pub, ...subs].map((c) => c.endAsync(true)));
}

async function latency(a: Args): Promise<void> {
  const qos = a.qos ?? 0;
  const rate = a.rate ?? 1000;
  const seconds = a.seconds ?? 10;
  const warmup = a.warmupSeconds ?? 1;
  const topic = `bench/lat/${process.pid}/${Date.now()}`;
  const samples: number[] = [];
  let measuring = false;
  const sub = await client(a, `bench-lsub-${process.pid}`);
  sub.on('message', (_t, payload) => {
    if (!measuring) return;
    const sentAt = payload.readBigUInt64BE(0);
    samples.push(Number(process.hrtime.bigint() - sentAt) / 1e6);
  });
  await sub.subscribeAsync(topic, { qos });
  const pub = await client(a, `bench-lpub-${process.pid}`);
  const start = performance.now();
  const total = (warmup + seconds) * rate;
  let sent = 0;
  let cpu0 = process.cpuUsage();
  let t0 = 0;
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const now = performance.now();
      if (!measuring && now - start >= warmup * 1000) {
        measuring = true;
        emit({ event: 'mark' });
        cpu0 = process.cpuUsage();
        t0 = now;
      }
      const due = Math.min(total, Math.floor(((now - start) / 1000) * rate));
      while (sent < due) {
        const p = Buffer.alloc(PAYLOAD, 0x62);
        p.writeBigUInt64BE(process.hrtime.bigint(), 0);
        pub.publish(topic, p, { qos });
        sent++;
      }
      if (sent >= total) resolve();
      else setTimeout(tick, 1);
    };
    tick();
  });
  await sleep(500);
  const elapsed = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  measuring = false;
  emit({ event: 'mark' });
  samples.sort((x, y) => x - y);
  const pct = (p: number): number => samples[Math.min(samples.length - 1, Math.floor(p * samples.length))] ?? NaN;
  emit({ event: 'result', rate, count: samples.length, expected: seconds * rate, p50: pct(0.5), p99: pct(0.99), max: samples.at(-1), cpu: (cpu.user + cpu.system) / 1e6 / elapsed });
  await Promise.all([pub, sub].map((c) => c.endAsync(true)));
}

async function idle(a: Args): Promise<void> {
  const n = a.connections ?? 10_000;
  const clients: MqttClient[] = [];
  const batch = 200;
  for (let i = 0; i < n; i += batch) {
    const group = await Promise.all(Array.from({ length: Math.min(batch, n - i) }, (_, j) => client(a, `bench-idle-${process.pid}-${i + j}`, 600)));
    clients.push(...group);
  }
  emit({ event: 'connected', connections: clients.length });
  await new Promise<void>((resolve) => createInterface({ input: process.stdin }).once('line', () => resolve()));
  for (let i = 0; i < clients.length; i += 500) await Promise.all(clients.slice(i, i + 500).map((c) => c.endAsync(true)));
  emit({ event: 'closed' });
}

const args = JSON.parse(process.argv[2] ?? '{}') as Args;
const run = args.mode === 'throughput' ? throughput : args.mode === 'latency' ? latency : idle;
run(args).then(() => process.exit(0), (err: unknown) => {
  emit({ event: 'error', message: String((err as Error)?.stack ?? err) });
  process.exit(1);
});
