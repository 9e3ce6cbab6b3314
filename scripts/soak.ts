/**
 * `npm run soak -- --minutes 30`: one Junction node as a child process under steady load for a
 * while: 10,000 MQTT connections (fewer if the file-descriptor limit does not allow them), a share of them subscribed and receiving
 * QoS 1 publishes; Kafka producers and a consumer group; a STOMP and an AMQP queue; XMPP chats.
 * (Node raises its soft descriptor limit to the hard one at start-up, here and in the broker.)
 * Every 10 s it samples the broker's RSS and open descriptors (/proc) and its heap and event-loop
 * delay (/metrics) and prints a row; at the end, the slope of RSS over the last half (MB/min).
 *
 *   node dist/scripts/soak.js [--minutes M] [--connections N] [--rate R] [--mqtt-rate R] [--sample-s S]
 *                             [--data-dir DIR] [--keep] [-- junction flags...]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { SingleNodeBroker } from './lib/broker-under-test.js';
import { endpointOf } from './lib/load/acked-load.js';
import { MqttFleet } from './lib/soak/mqtt-fleet.js';
import { fdLimits, sampleProcess, slope, type ProcessSample } from './lib/soak/process-sample.js';
import { SteadyTraffic } from './lib/soak/steady-traffic.js';
import { scriptArgs } from './lib/script-args.js';
import { textTable } from './lib/text-table.js';

const USAGE = `usage: npm run soak -- [options] [-- junction start flags...]

  --minutes M        how long to run (default 30; fractions allowed)
  --connections N    MQTT connections (default 10000; capped by the file-descriptor limit)
  --rate R           messages per second per protocol for Kafka, STOMP, AMQP, XMPP (default 100)
  --mqtt-rate R      QoS 1 publishes per second across the MQTT connections (default 200)
  --sample-s S       seconds between samples (default 10)
  --data-dir DIR     broker data directory (default: a fresh temporary one, removed at the end)
  --keep             keep the temporary data directory
`;
/** Descriptors kept free on each side for everything but the MQTT fleet. */
const FD_RESERVE = 1000;

function parse() {
  const { values, positionals, number } = scriptArgs('soak', USAGE, {
    minutes: { type: 'string', default: '30' },
    connections: { type: 'string', default: '10000' },
    rate: { type: 'string', default: '100' },
    'mqtt-rate': { type: 'string', default: '200' },
    'sample-s': { type: 'string', default: '10' },
    'data-dir': { type: 'string' },
    keep: { type: 'boolean', default: false },
  });
  const num = (name: string, v: string, min: number) => number(name, v, min, false);
  return {
    minutes: num('minutes', values.minutes, 0.1),
    connections: Math.floor(num('connections', values.connections, 0)),
    rate: num('rate', values.rate, 1),
    mqttRate: num('mqtt-rate', values['mqtt-rate'], 0),
    sampleS: num('sample-s', values['sample-s'], 1),
    dataDir: values['data-dir'] ? resolve(values['data-dir']) : undefined,
    keep: values.keep,
    junctionArgs: positionals,
  };
}

const log = (line: string) => process.stdout.write(`soak: ${line}\n`);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const f1 = (v: number) => (Number.isFinite(v) ? v.toFixed(1) : '-');

async function main(): Promise<void> {
  const o = parse();
  const limits = fdLimits();
  const connections = Math.max(0, Math.min(o.connections, limits.soft - FD_RESERVE));
  log(`file descriptors: soft ${limits.soft}, hard ${limits.hard}; MQTT connections: ${connections}${connections < o.connections ? ` (asked ${o.connections}, capped by the limit)` : ''}`);

  const ownDir = !o.dataDir;
  const dataDir = o.dataDir ?? mkdtempSync(join(tmpdir(), 'junction-soak-'));
  const broker = new SingleNodeBroker({ dataDir, args: ['--set', `limits.maxConnections=${connections + FD_RESERVE}`, ...o.junctionArgs] });
  await broker.start();
  const pid = broker.pids()[0];
  log(`broker pid ${pid} on ${dataDir}; its limit: ${fdLimits(pid).soft} descriptors`);
  const prefix = `s${Date.now().toString(36).slice(-5)}`;
  const startedAt = Date.now();
  const fleet = new MqttFleet(endpointOf(broker.endpoints, 'mqtt'), { count: connections, rampPerSecond: 500, keepaliveS: 60, subscriberEvery: 10, prefix });
  const steady = new SteadyTraffic({ prefix, endpoints: broker.endpoints, rate: o.rate, kafkaProducers: 2, kafkaConsumers: 2, xmppPairs: 2 });

  const samples: ProcessSample[] = [];
  const rows: Array<Array<string | number>> = [['t (s)', 'RSS MB', 'heap used MB', 'heap total MB', 'fds', 'loop p99 ms', 'loop max ms', 'MQTT conns', 'acked/s', 'received/s']];
  let last = { acked: 0, received: 0, at: Date.now() };
  const totals = () => {
    const c = Object.values(steady.counts);
    return { acked: fleet.acked + c.reduce((s, x) => s + x.acked, 0), received: fleet.received + c.reduce((s, x) => s + x.received, 0) };
  };
  let stopping = false;
  const sampler = (async () => {
    while (!stopping) {
      await sleep(o.sampleS * 1000);
      if (!broker.running) break;
      let s: ProcessSample;
      try {
        s = await sampleProcess(pid, broker.httpUrls()[0], startedAt);
      } catch {
        break; // the process is gone (reported below)
      }
      samples.push(s);
      const t = totals();
      const dt = (Date.now() - last.at) / 1000;
      const row = [Math.round(s.atMs / 1000), f1(s.rssMb), f1(s.heapUsedMb), f1(s.heapTotalMb), s.fds, f1(s.loopP99Ms), f1(s.loopMaxMs), fleet.connected,
        Math.round((t.acked - last.acked) / dt), Math.round((t.received - last.received) / dt)];
      rows.push(row);
      last = { ...t, at: Date.now() };
      if (rows.length === 2) process.stdout.write(`${textTable(rows).split('\n')[0]}\n`);
      process.stdout.write(`${textTable([rows[0], row]).split('\n')[1]}\n`);
    }
  })();

  const durationMs = o.minutes * 60000;
  let failed = false;
  try {
    log(`opening ${connections} MQTT connections at 500/s, starting Kafka, STOMP, AMQP and XMPP traffic at ${o.rate} msg/s each`);
    await Promise.all([steady.start(), fleet.connectAll()]);
    log(`MQTT: ${fleet.connected} connected, ${fleet.failures} failed; publishing ${o.mqttRate}/s`);
    const publisher = setInterval(() => fleet.publish(o.mqttRate / 10), 100);
    while (Date.now() - startedAt < durationMs && broker.running) await sleep(500);
    clearInterval(publisher);
    if (!broker.running) {
      failed = true;
      log(`the broker exited during the soak:\n${broker.output().slice(-4000)}`);
    }
  } catch (err) {
    failed = true;
    log(`aborted: ${(err as Error).stack ?? err}`);
  } finally {
    stopping = true;
    await sampler;
    await steady.stop();
    fleet.close();
    await broker.stop();
    if (ownDir && !o.keep) rmSync(dataDir, { recursive: true, force: true });
  }

  process.stdout.write(`\n${textTable(rows)}\n\n`);
  const half = samples.filter((s) => s.atMs >= durationMs / 2);
  const rssSlope = slope(half.map((s) => [s.atMs / 60000, s.rssMb]));
  const heapSlope = slope(half.map((s) => [s.atMs / 60000, s.heapUsedMb]));
  const traffic = [['protocol', 'sent', 'acknowledged', 'received', 'errors']];
  traffic.push(['mqtt fleet', String(fleet.published), String(fleet.acked), String(fleet.received), String(fleet.failures + fleet.closedByBroker)]);
  for (const [name, c] of Object.entries(steady.counts)) traffic.push([name, String(c.sent), String(c.acked), String(c.received), String(c.errors)]);
  process.stdout.write(`${textTable(traffic)}\n\n`);
  const peak = (f: (s: ProcessSample) => number) => Math.max(...samples.map(f));
  log(`ran ${(durationMs / 60000).toFixed(1)} min; MQTT connections ${connections} (fd limit ${limits.soft}); broker peak RSS ${f1(peak((s) => s.rssMb))} MB, peak fds ${peak((s) => s.fds)}, peak loop delay ${f1(peak((s) => s.loopMaxMs))} ms`);
  log(`RSS slope over the last half: ${Number.isFinite(rssSlope) ? rssSlope.toFixed(2) : '-'} MB/min (heap used: ${Number.isFinite(heapSlope) ? heapSlope.toFixed(2) : '-'} MB/min, ${half.length} samples)`);
  process.exit(failed ? 1 : 0);
}

void main();
