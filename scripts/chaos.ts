/**
 * `npm run chaos -- --trials 20`: kill -9 fault trials on one Junction node under mixed acknowledged
 * load (MQTT QoS 1 and 2, idempotent Kafka acks=all, STOMP receipts, AMQP settled durable sends,
 * XMPP offline messages), each followed by a restart on the same data directory and a full
 * read-back; then a disk-full trial (data directory on a small tmpfs). Prints a table per trial and
 * exits 1 if anything acknowledged was lost (or duplicated where exactly-once is promised).
 *
 *   node dist/scripts/chaos.js [--trials N] [--rate R] [--window W] [--data-dir DIR] [--keep] [--crash random|on-ack|mixed]
 *                              [--loads a,b] [--no-disk-full | --disk-full-only] [-- junction flags...]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { SingleNodeBroker } from './lib/broker-under-test.js';
import { runDiskFullTrial, diskFullTable } from './lib/disk-full-trial.js';
import { runCrashTrial, tallyTable, type TrialResult } from './lib/fault-trial.js';
import { LOAD_NAMES, type LoadName } from './lib/load/index.js';
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
`;

function fail(message: string): never {
  process.stderr.write(`chaos: ${message}\n`);
  process.exit(2);
}

function parse() {
  let parsed;
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: {
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
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (err) {
    fail(`${(err as Error).message}\n${USAGE}`);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  const int = (name: string, v: string, min: number) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) fail(`--${name} must be an integer >= ${min} (got ${v})`);
    return n;
  };
  const loads = values.loads.split(',').map((s) => s.trim()).filter(Boolean);
  for (const l of loads) if (!(LOAD_NAMES as readonly string[]).includes(l)) fail(`--loads: unknown load ${l} (known: ${LOAD_NAMES.join(', ')})`);
  return {
    trials: values['disk-full-only'] ? 0 : int('trials', values.trials, 0),
    rate: int('rate', values.rate, 1),
    window: int('window', values.window, 1),
    loads: loads as LoadName[],
    dataDir: values['data-dir'] ? resolve(values['data-dir']) : undefined,
    keep: values.keep,
    crash: crashMode(values.crash),
    diskFull: !values['no-disk-full'],
    diskMb: int('disk-mb', values['disk-mb'], 8),
    junctionArgs: positionals,
  };
}

const log = (line: string) => process.stdout.write(`chaos: ${line}\n`);

type CrashMode = 'random' | 'on-ack' | 'mixed';

function crashMode(v: string): CrashMode {
  if (v === 'random' || v === 'on-ack' || v === 'mixed') return v;
  fail(`--crash must be random, on-ack or mixed (got ${v})`);
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
  let failed = false;

  if (o.trials > 0) {
    const broker = new SingleNodeBroker({ dataDir, args: o.junctionArgs });
    log(`starting a Junction node on ${dataDir}`);
    await broker.start();
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
          crashAfterMs: [300, 3000], crashOnAckOf: onAckTarget(o.crash, o.loads, i), afterRecoveryMs: 1000, sendTimeoutMs: 15000, readTimeoutMs: 30000, log: (l) => log(`  ${l}`),
        });
        results.push(r);
        process.stdout.write(`\ntrial ${i}: ${r.crash} (${r.crashAtMs} ms into the load), back in ${r.recoveryMs} ms\n${tallyTable(r.rows)}\n`);
        for (const f of r.failures) process.stdout.write(`  FAIL ${f}\n`);
        process.stdout.write('\n');
      }
    } catch (err) {
      failed = true;
      process.stderr.write(`chaos: trial aborted: ${(err as Error).stack ?? err}\nbroker output (tail):\n${broker.output().slice(-4000)}\n`);
    } finally {
      await broker.stop();
    }
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

  if (ownDir && !o.keep) rmSync(dataDir, { recursive: true, force: true });
  else log(`data directory kept: ${dataDir}`);
  log(failed ? 'FAILED: see above' : 'passed: nothing acknowledged was lost');
  process.exit(failed ? 1 : 0);
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
