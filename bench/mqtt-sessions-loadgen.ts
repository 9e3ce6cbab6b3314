/**
 * Load generator of bench/sessions-bench.ts (a child process, so the broker and the clients never
 * share an event loop): npm `mqtt` clients, MQTT 3.1.1, persistent sessions (clean=false).
 *
 *   node dist/bench/mqtt-sessions-loadgen.js '{"phase":"subscribe","port":1883,"sessions":10000}'
 *
 * Phases:
 * - subscribe: sessions `bench-s-<i>` connect with clean=false, subscribe to `bench/s/<i>` at QoS 1
 *   and disconnect, 50 at a time: each leaves an offline session with its queue.
 * - publish: `publishers` connections publish `perSession` 100-byte QoS 1 messages to every
 *   session's topic, round robin over the sessions (so each session's messages are spread over
 *   the whole journal, as with real devices), at most `window` unacknowledged per connection.
 * - sample: sessions 0..`sample`-1 reconnect (clean=false) and count what they receive until
 *   nothing came for 2 s: each should get `perSession`.
 * Prints JSON lines: {"progress":n} now and then, then {"done":true, ...figures}.
 */
import mqtt, { type MqttClient } from 'mqtt';

interface Args {
  phase: 'subscribe' | 'publish' | 'sample';
  port: number;
  sessions: number;
  perSession?: number;
  publishers?: number;
  window?: number;
  sample?: number;
}

const emit = (o: object): void => { process.stdout.write(`${JSON.stringify(o)}\n`); };
const a = JSON.parse(process.argv[2]) as Args;
const url = `mqtt://127.0.0.1:${a.port}`;
const connect = (clientId: string, clean: boolean): Promise<MqttClient> =>
  mqtt.connectAsync(url, { clientId, protocolVersion: 4, clean, keepalive: 600, reconnectPeriod: 0, connectTimeout: 60_000 });

async function subscribe(): Promise<void> {
  let next = 0;
  let done = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < a.sessions; i = next++) {
      const c = await connect(`bench-s-${i}`, false);
      await c.subscribeAsync(`bench/s/${i}`, { qos: 1 });
      await c.endAsync();
      if (++done % 1000 === 0) emit({ progress: done });
    }
  };
  await Promise.all(Array.from({ length: 50 }, worker));
}

async function publish(): Promise<number> {
  const per = a.perSession ?? 100;
  const publishers = a.publishers ?? 2;
  const window = a.window ?? 500;
  const total = per * a.sessions;
  const share = Math.ceil(total / publishers);
  const payload = Buffer.alloc(100, 0x61);
  let sent = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: publishers }, async (_, p) => {
    const c = await connect(`bench-pub-${process.pid}-${p}`, true);
    const from = p * share;
    const to = Math.min(total, from + share);
    await new Promise<void>((resolve, reject) => {
      let k = from;
      let inflight = 0;
      const pump = (): void => {
        while (inflight < window && k < to) {
          const topic = `bench/s/${k % a.sessions}`;
          k++;
          inflight++;
          c.publish(topic, payload, { qos: 1 }, (err) => {
            if (err) return reject(err);
            inflight--;
            if (++sent % 100_000 === 0) emit({ progress: sent });
            if (k >= to && inflight === 0) resolve();
            else pump();
          });
        }
      };
      pump();
    });
    await c.endAsync();
  }));
  return total / ((performance.now() - t0) / 1000);
}

async function sample(): Promise<number[]> {
  const n = Math.min(a.sample ?? 10, a.sessions);
  return Promise.all(Array.from({ length: n }, async (_, i) => {
    let got = 0;
    let last = Date.now();
    const c = await mqtt.connectAsync(url, { clientId: `bench-s-${i}`, protocolVersion: 4, clean: false, keepalive: 600, reconnectPeriod: 0, manualConnect: false });
    c.on('message', () => {
      got++;
      last = Date.now();
    });
    while (Date.now() - last < 2000) await new Promise((r) => setTimeout(r, 200));
    await c.endAsync();
    return got;
  }));
}

if (a.phase === 'subscribe') {
  const t0 = performance.now();
  await subscribe();
  emit({ done: true, seconds: (performance.now() - t0) / 1000 });
} else if (a.phase === 'publish') {
  emit({ done: true, rate: await publish() });
} else {
  emit({ done: true, received: await sample() });
}
process.exit(0);
