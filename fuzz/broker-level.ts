/**
 * The broker-level pass: mutated sessions of each protocol sent over loopback to one in-process
 * broker (every listener; WebSocket frames after a real upgrade on /mqtt, /stomp and /xmpp), each
 * on its own connection, read until the broker closes it or goes quiet. After every batch the
 * canary of that protocol must still work. Crash: an error-level log line, an uncaught exception
 * or a failed canary.
 */
import { connect } from 'node:net';
import { recordingLogger, type LogRecord } from '../test/support/logger.js';
import { startBroker } from '../test/support/broker.js';
import { amqpCanary, httpCanary, kafkaCanary, mqttCanary, stompCanary, xmppCanary } from './canaries.js';
import type { Finding, TargetReport } from './engine.js';
import { mutate } from './mutator.js';
import { fnv1a, Prng } from './prng.js';
import { amqpSeeds, AMQP_DICTIONARY } from './targets/amqp.js';
import { kafkaSeeds, KAFKA_DICTIONARY } from './targets/kafka.js';
import { mqttSeeds, MQTT_DICTIONARY } from './targets/mqtt.js';
import { stompSeeds, STOMP_DICTIONARY } from './targets/stomp.js';
import { websocketSeeds, WEBSOCKET_DICTIONARY } from './targets/websocket.js';
import { xmppSeeds, XMPP_DICTIONARY } from './targets/xmpp.js';

const BATCH = 50;
const CONCURRENCY = 8;
const QUIET_MS = 150;
const WS_PATHS: Array<[string, string]> = [['/mqtt', 'mqtt'], ['/stomp', 'v12.stomp'], ['/xmpp', 'xmpp']];

interface Listener {
  name: string;
  port: string;
  seeds: () => Buffer[];
  dict: readonly Buffer[];
  canary: (port: number) => Promise<void>;
  websocket?: boolean;
}

const LISTENERS: Listener[] = [
  { name: 'mqtt', port: 'mqtt', seeds: () => mqttSeeds().filter((s) => s[0] === 0x10), dict: MQTT_DICTIONARY, canary: mqttCanary },
  { name: 'stomp', port: 'stomp', seeds: stompSeeds, dict: STOMP_DICTIONARY, canary: stompCanary },
  { name: 'amqp', port: 'amqp', seeds: amqpSeeds, dict: AMQP_DICTIONARY, canary: amqpCanary },
  { name: 'kafka', port: 'kafka', seeds: kafkaSeeds, dict: KAFKA_DICTIONARY, canary: kafkaCanary },
  { name: 'xmpp', port: 'xmpp', seeds: () => xmppSeeds().filter((s) => s.includes('stream:stream')), dict: XMPP_DICTIONARY, canary: xmppCanary },
  { name: 'websocket', port: 'http', seeds: websocketSeeds, dict: WEBSOCKET_DICTIONARY, canary: httpCanary, websocket: true },
];

/** Sends one input on a fresh connection and waits until the broker closes it or goes quiet. */
export function sendSession(port: number, input: Buffer, wsPath?: [string, string]): Promise<void> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    let quiet: NodeJS.Timeout | undefined;
    const done = (): void => { clearTimeout(quiet); clearTimeout(cap); s.destroy(); resolve(); };
    const idle = (): void => { clearTimeout(quiet); quiet = setTimeout(done, QUIET_MS); };
    const cap = setTimeout(done, 3000);
    let upgraded = !wsPath;
    s.on('connect', () => {
      if (wsPath) {
        s.write(`GET ${wsPath[0]} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: ${wsPath[1]}\r\n\r\n`);
      } else {
        s.write(input);
      }
      idle();
    });
    s.on('data', (d) => {
      if (!upgraded && d.includes('\r\n\r\n')) {
        upgraded = true;
        s.write(input);
      }
      idle();
    });
    s.on('error', done);
    s.on('close', done);
  });
}

export async function fuzzBroker(inputsPerListener: number, seed: number): Promise<TargetReport[]> {
  const logs: LogRecord[] = [];
  const uncaught: Error[] = [];
  const onUncaught = (err: Error): void => { uncaught.push(err); };
  process.on('uncaughtException', onUncaught);
  const broker = await startBroker({ logger: recordingLogger(logs) });
  const reports: TargetReport[] = [];
  try {
    for (const l of LISTENERS) {
      const port = broker.ports[l.port]!;
      const rng = new Prng(fnv1a(`broker:${l.name}`, seed));
      const seeds = l.seeds();
      const findings: Finding[] = [];
      let crashes = 0;
      let peak = process.memoryUsage.rss();
      const started = performance.now();
      const note = (error: string, input: Buffer | null): void => {
        crashes++;
        if (findings.length < 20) findings.push({ kind: 'crash', target: `broker:${l.name}`, error, hex: input ? input.toString('hex') : '', count: 1 });
      };
      for (let done = 0; done < inputsPerListener;) {
        const batch: Buffer[] = [];
        for (let k = 0; k < BATCH && done < inputsPerListener; k++, done++) {
          batch.push(done < seeds.length ? seeds[done] : mutate(rng, rng.pick(seeds), rng.pick(seeds), l.dict));
        }
        // A batch in parallel; an error logged during it is pinned on the batch's inputs one by one.
        const errorsBefore = logs.filter((r) => r.level === 'error').length;
        for (let k = 0; k < batch.length; k += CONCURRENCY) {
          await Promise.all(batch.slice(k, k + CONCURRENCY).map((input, j) => sendSession(port, input, l.websocket ? WS_PATHS[(k + j) % WS_PATHS.length] : undefined)));
        }
        const errors = logs.filter((r) => r.level === 'error').slice(errorsBefore);
        if (errors.length > 0 || uncaught.length > 0) {
          const culprit = await findCulprit(batch, port, l, logs);
          for (const e of errors.slice(0, 3)) note(`error log: ${e.msg ?? ''} ${JSON.stringify(e.obj).slice(0, 300)}`, culprit);
          for (const e of uncaught.splice(0)) note(`uncaught: ${e.stack ?? e.message}`, culprit);
        }
        try {
          await l.canary(port);
        } catch (err) {
          note(`canary failed: ${(err as Error).message}`, batch[batch.length - 1]);
        }
        peak = Math.max(peak, process.memoryUsage.rss());
      }
      reports.push({
        target: `broker:${l.name}`, inputs: inputsPerListener, seconds: (performance.now() - started) / 1000, crashes, hangs: 0,
        peakRssMiB: Math.round(peak / 1048576), corpus: seeds.length, signatures: 0, findings,
      });
    }
  } finally {
    await broker.close();
    process.off('uncaughtException', onUncaught);
  }
  return reports;
}

/** Replays a batch's inputs one at a time to find the one that makes the broker log an error. */
async function findCulprit(batch: Buffer[], port: number, l: Listener, logs: LogRecord[]): Promise<Buffer | null> {
  for (let k = 0; k < batch.length; k++) {
    const before = logs.filter((r) => r.level === 'error').length;
    await sendSession(port, batch[k], l.websocket ? WS_PATHS[k % WS_PATHS.length] : undefined);
    if (logs.filter((r) => r.level === 'error').length > before) return batch[k];
  }
  return null;
}
