/**
 * `npm run chaos -- --trials 20`: kill -9 fault trials on one Junction node under mixed acknowledged
 * load (MQTT QoS 1 and 2, idempotent Kafka acks=all, STOMP receipts, AMQP settled durable sends,
 * XMPP offline messages), each followed by a restart on the same data directory and a full
 * read-back; then a disk-full trial (data directory on a small tmpfs). Prints a table per trial and
 * exits 1 if anything acknowledged was lost (or duplicated where exactly-once is promised).
 * With --cluster: 3 nats-servers and 3 Junction nodes, each trial kills -9 one random process of
 * the six (scripts/lib/cluster-broker.ts) and also reports the failover time.
 *
 *   node dist/scripts/chaos.js [--trials N] [--rate R] [--window W] [--data-dir DIR] [--keep] [--crash random|on-ack|mixed]
 *                              [--loads a,b] [--no-disk-full | --disk-full-only] [--cluster [--victims node,nats]] [-- junction flags...]
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { SingleNodeBroker, type BrokerUnderTest } from './lib/broker-under-test.js';
import { ClusterBroker, type Failover, type VictimKind } from './lib/cluster-broker.js';
import { runDiskFullTrial, diskFullTable } from './lib/disk-full-trial.js';
import { runCrashTrial, tallyTable, type TrialResult } from './lib/fault-trial.js';
import { LOAD_NAMES, type LoadName } from './lib/load/index.js';
import { scriptArgs } from './lib/script-args.js';
import { textTable } from './lib/text-table.js';

const USAGE = `usage: npm run chaos -- [options] [-- junction start flags...]

  --trials N         kill -9 trials (default 20)
  --rate R           messages per second per protocol load (default 100)
  --window W         sends in flight per protocol load (default 8)
  --loads LIST       comma-separated subset of ${LOAD_NAMES.join(',')}
  --data-dir DIR     broker data directory (default: a fresh temporary one, removed at the end)
  --keep             keep the temporary data directory
  --crash MODE       random: kill at a random moment 0.3-3 s into the load; on-ack: then wait for the
                     next acknowledgement of one protocol (each trial the next one in turn) and kill in
                     the same tick; mixed (default): odd trials random, even trials on-ack
  --no-disk-full     skip the disk-full trial
  --disk-full-only   run only the disk-full trial
  --disk-mb N        size of the disk-full trial's filesystem in MiB (default 48)
  --cluster          3 nats-servers + 3 Junction nodes (cluster.heartbeatMs 250, cluster.nodeTimeoutMs
                     2000); each trial kills -9 one random node or nats-server, waits until its
                     partitions and queues have new owners (at least 3 s), restarts it; no disk-full
                     trial; --data-dir holds nats-1..3 and node-1..3
  --victims LIST     with --cluster: node, nats or node,nats (default) — what may be killed
`;

function parse() {
  const { values, positionals, fail, number } = scriptArgs('chaos', USAGE, {
    trials: { type: 'string', default: '20' },
    rate: { type: 'string', default: '100' },
    window: { type: 'string', default: '8' },
    loads: { type: 'string', default: LOAD_NAMES.join(',') },
    'data-dir': { type: 'string' },
    keep: { type: 'boolean', default: false },
    crash: { type: 'string', default: 'mixed' },
    'no-disk-full': { type: 'boolean', default: false },
    'disk-full-only': { type: 'boolean', default: false },
    'disk-mb': { type: 'string', default: '48' },
    cluster: { type: 'boolean', default: false },
    victims: { type: 'string', default: 'node,nats' },
  });
  const int = (name: string, v: string, min: number) => number(name, v, min);
  const loads = values.loads.split(',').map((s) => s.trim()).filter(Boolean);
  for (const l of loads) if (!(LOAD_NAMES as readonly string[]).includes(l)) fail(`--loads: unknown load ${l} (known: ${LOAD_NAMES.join(', ')})`);
  const victims = values.victims.split(',').map((s) => s.trim()).filter(Boolean);
  for (const v of victims) if (v !== 'node' && v !== 'nats') fail(`--victims: unknown kind ${v} (node, nats)`);
  if (!victims.length) fail('--victims: name at least one of node, nats');
  if (values.cluster && values['disk-full-only']) fail('--disk-full-only does not go with --cluster');
  return {
    cluster: values.cluster,
    victims: victims as VictimKind[],
    trials: values['disk-full-only'] ? 0 : int('trials', values.trials, 0),
    rate: int('rate', values.rate, 1),
    window: int('window', values.window, 1),
    loads: loads as LoadName[],
    dataDir: values['data-dir'] ? resolve(values['data-dir']) : undefined,
    keep: values.keep,
    crash: crashMode(values.crash, fail),
    diskFull: !values['no-disk-full'] && !values.cluster,
    diskMb: int('disk-mb', values['disk-mb'], 8),
    junctionArgs: positionals,
  };
}

const log = (line: string) => process.stdout.write(`chaos: ${line}\n`);

type CrashMode = 'random' | 'on-ack' | 'mixed';

function crashMode(v: string, fail: (message: string) => never): CrashMode {
  if (v === 'random' || v === 'on-ack' || v === 'mixed') return v;
  return fail(`--crash must be random, on-ack or mixed (got ${v})`);
}

/** Which load's acknowledgement trial `i` (from 1) waits for before the kill, if any. */
function onAckTarget(mode: CrashMode, loads: LoadName[], i: number): LoadName | undefined {
  if (mode === 'random' || (mode === 'mixed' && i % 2 === 1)) return undefined;
  const k = mode === 'mixed' ? i / 2 - 1 : i - 1;
  return loads[k % loads.length];
}

async function main(): Promise<void> {
  const o = parse();
  const runId = Date.now().toString(36).slice(-5);
  const ownDir = !o.dataDir;
  const dataDir = o.dataDir ?? mkdtempSync(join(tmpdir(), 'junction-chaos-'));
  const results: TrialResult[] = [];
  const failovers: Array<Failover | undefined> = [];
  let failed = false;

  if (o.trials > 0) {
    const cluster = o.cluster ? new ClusterBroker({ baseDir: dataDir, args: o.junctionArgs, victims: o.victims, log: (l) => log(`  ${l}`) }) : undefined;
    const broker: BrokerUnderTest = cluster ?? new SingleNodeBroker({ dataDir, args: o.junctionArgs });
    log(cluster ? `starting 3 nats-servers and 3 Junction nodes in ${dataDir}` : `starting a Junction node on ${dataDir}`);
    const t0 = Date.now();
    try {
      await broker.start();
    } catch (err) {
      process.stderr.write(`chaos: could not start: ${(err as Error).message}\n${broker.output().slice(-4000)}\n`);
      await broker.stop().catch(() => undefined);
      process.exit(2);
    }
    log(`started in ${Date.now() - t0} ms`);
    const onSignal = () => {
      void broker.stop().finally(() => process.exit(130));
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    try {
      for (let i = 1; i <= o.trials; i++) {
        log(`trial ${i}/${o.trials}`);
        const r = await runCrashTrial(broker, {
          prefix: `c${runId}t${i}`, loads: o.loads, rate: o.rate, window: o.window,
          crashAfterMs: [300, 3000], crashOnAckOf: onAckTarget(o.crash, o.loads, i), afterRecoveryMs: cluster ? 2000 : 1000, sendTimeoutMs: 15000, readTimeoutMs: 30000,
          kafkaReplicationFactor: cluster ? 3 : undefined, log: (l) => log(`  ${l}`),
        });
        results.push(r);
        const f = cluster?.lastFailover;
        failovers.push(f);
        process.stdout.write(`\ntrial ${i}: ${r.crash} (${r.crashAtMs} ms into the load), back in ${r.recoveryMs} ms\n`);
        if (f) process.stdout.write(`${failoverLine(f)}\n`);
        process.stdout.write(`${tallyTable(r.rows)}\n`);
        for (const f of r.failures) process.stdout.write(`  FAIL ${f}\n`);
        if (cluster && r.failures.length) {
          // Stored but undelivered, or never stored: what the read-back left in the shared queues says which.
          const backlog = await cluster.queueBacklog(r.prefix).catch((err: Error) => new Map([[`(not readable: ${err.message})`, 0]]));
          process.stdout.write(`  still in ${'JUNCTION_QUEUES'} after the read-back: ${[...backlog].map(([q, n]) => `${q} ${n}`).join(', ') || 'nothing'}\n`);
          for (const line of await cluster.queueViews(r.prefix)) process.stdout.write(`  queues on ${line}\n`);
          const file = join(dataDir, `trial-${i}-output.log`);
          writeFileSync(file, cluster.output());
          process.stdout.write(`  output of every process: ${file}\n`);
        }
        process.stdout.write('\n');
      }
    } catch (err) {
      failed = true;
      process.stderr.write(`chaos: trial aborted: ${(err as Error).stack ?? err}\nbroker output (tail):\n${broker.output().slice(-4000)}\n`);
      if (cluster) {
        const file = join(dataDir, 'aborted-output.log');
        writeFileSync(file, cluster.output());
        process.stderr.write(`chaos: output of every process: ${file}\n`);
      }
    } finally {
      await broker.stop();
    }
    if (cluster) printClusterTrials(results, failovers);
    printSummary(results, o.trials);
    failed ||= results.some((r) => r.failures.length > 0);
  }

  if (o.diskFull) {
    log(`disk-full trial (${o.diskMb} MiB tmpfs)`);
    try {
      const r = await runDiskFullTrial({ prefix: `c${runId}df`, loads: o.loads, rate: o.rate, window: o.window, sizeMb: o.diskMb, args: o.junctionArgs, log: (l) => log(`  ${l}`) });
      if (r.skipped) log(`disk-full trial skipped: ${r.skipped}`);
      else {
        process.stdout.write(`\ndisk-full trial\n${diskFullTable(r)}\n`);
        for (const f of r.failures) process.stdout.write(`  FAIL ${f}\n`);
        for (const n of r.notes) process.stdout.write(`  note: ${n}\n`);
        failed ||= r.failures.length > 0;
      }
    } catch (err) {
      failed = true;
      process.stderr.write(`chaos: disk-full trial aborted: ${(err as Error).stack ?? err}\n`);
    }
  }

  if (ownDir && !o.keep && !(o.cluster && failed)) rmSync(dataDir, { recursive: true, force: true });
  else log(`data directory kept: ${dataDir}`);
  log(failed ? 'FAILED: see above' : 'passed: nothing acknowledged was lost');
  process.exit(failed ? 1 : 0);
}

const seconds = (ms: number | undefined) => (ms === undefined ? 'timeout' : (ms / 1000).toFixed(1));

function failoverLine(f: Failover): string {
  const owned = f.kind === 'node' ? `, ${f.victimLed} led and ${f.victimOwned} owned by ${f.victim}` : '';
  return `failover: every partition led by a live node after ${seconds(f.leadersMs)} s, every shared queue owned after ${seconds(f.queuesMs)} s`
    + ` (${f.partitions} partitions, ${f.queues} queues${owned}); ${f.victim} restarted and listed by every node after ${seconds(f.rejoinMs)} s`;
}

/** One row per cluster trial: victim, failover, and per protocol acknowledged/received/lost/duplicated. */
function printClusterTrials(results: TrialResult[], failovers: Array<Failover | undefined>): void {
  if (!results.length) return;
  const names = results[0].rows.map((r) => r.name);
  const rows: Array<Array<string | number>> = [['trial', 'victim', 'leaders s', 'queues s', ...names, 'result']];
  results.forEach((r, i) => {
    const f = failovers[i];
    rows.push([i + 1, f?.victim ?? '?', seconds(f?.leadersMs), seconds(f?.queuesMs),
      ...names.map((n) => {
        const t = r.rows.find((x) => x.name === n)!;
        return `${t.acknowledged}/${t.received}/${t.lost}/${t.duplicated}${t.exactlyOnce ? '' : '*'}`;
      }),
      r.failures.length ? 'FAIL' : 'ok']);
  });
  const fo = failovers.filter((f): f is Failover => f?.kind === 'node' && f.leadersMs !== undefined).map((f) => f.leadersMs!);
  process.stdout.write(`cluster trials (per protocol: acknowledged/received/lost/duplicated; * duplicates allowed)\n${textTable(rows)}\n`);
  if (fo.length) process.stdout.write(`failover after a Junction node's kill -9: ${seconds(Math.min(...fo))}-${seconds(Math.max(...fo))} s (${fo.length} trials)\n`);
  process.stdout.write('\n');
}

function printSummary(results: TrialResult[], planned: number): void {
  if (!results.length) return;
  const names = results[0].rows.map((r) => r.name);
  const rows: Array<Array<string | number>> = [['protocol', 'acknowledged', 'received', 'lost', 'duplicated', 'trials failed']];
  for (const name of names) {
    const all = results.map((t) => t.rows.find((r) => r.name === name)!);
    const sum = (f: (r: (typeof all)[number]) => number) => all.reduce((s, r) => s + f(r), 0);
    const dupFails = all[0].exactlyOnce;
    rows.push([name, sum((r) => r.acknowledged), sum((r) => r.received), sum((r) => r.lost), `${sum((r) => r.duplicated)}${dupFails ? '' : '*'}`,
      all.filter((r) => r.lost > 0 || (r.exactlyOnce && r.duplicated > 0)).length]);
  }
  process.stdout.write(`summary of ${results.length}/${planned} trials\n${textTable(rows)}\n* duplicates allowed (at-least-once protocol)\n\n`);
}

void main();
