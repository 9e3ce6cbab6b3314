/**
 * One kill -9 fault trial against a BrokerUnderTest: every protocol's acknowledged load starts,
 * the broker is crashed at a random moment and recovered on the same data, the load keeps going
 * (clients reconnect) for a while, then stops; everything is read back and compared with what
 * was acknowledged. A trial fails when an acknowledged message was not read back, or was read
 * back twice where the protocol promises exactly-once (MQTT QoS 2, the idempotent Kafka producer).
 */
import type { BrokerUnderTest } from './broker-under-test.js';
import { createLoad, withTimeout, type AckedLoad, type LoadName, type LoadTally } from './load/index.js';

/** Bounds on the steps that have no bound of their own in some client libraries (an XMPP login, a group join). */
const PREPARE_TIMEOUT_MS = 60000;
const READ_GRACE_MS = 30000;
import { textTable } from './text-table.js';

export interface TrialOptions {
  /** Unique per trial (names of queues, topics, accounts derive from it). */
  prefix: string;
  loads: readonly LoadName[];
  /** Messages per second per protocol load. */
  rate: number;
  window: number;
  /** The crash comes at a random moment in this range after the load started (ms). */
  crashAfterMs: [number, number];
  /**
   * Then, when set, the crash waits for the next acknowledgement of this load and comes in the
   * same tick, so whatever the broker acknowledged last is tested (at most `ackWaitMs`, 2 s).
   */
  crashOnAckOf?: LoadName;
  /** Load keeps going this long after the broker is back (ms). */
  afterRecoveryMs: number;
  sendTimeoutMs: number;
  readTimeoutMs: number;
  /** Replication factor of the Kafka load's topic (default the broker's). */
  kafkaReplicationFactor?: number;
  /** Called with progress lines. */
  log?: (line: string) => void;
}

export interface TrialResult {
  prefix: string;
  crash: string;
  crashAtMs: number;
  recoveryMs: number;
  rows: LoadTally[];
  failures: string[];
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function trialFailures(rows: LoadTally[]): string[] {
  const failures: string[] = [];
  for (const r of rows) {
    if (r.lost > 0) failures.push(`${r.name}: ${r.lost} acknowledged message(s) lost (e.g. ${r.lostSample.join(', ')})`);
    if (r.exactlyOnce && r.duplicated > 0) failures.push(`${r.name}: ${r.duplicated} message(s) duplicated where exactly-once is promised (e.g. ${r.duplicateSample.join(', ')})`);
  }
  return failures;
}

/** Prepares and starts every load (prepare in parallel; a failing prepare closes the others). */
export async function startLoads(names: readonly LoadName[], make: (name: LoadName) => AckedLoad): Promise<AckedLoad[]> {
  const loads = names.map(make);
  const prepared = await Promise.allSettled(loads.map((l) => withTimeout(l.prepare(), PREPARE_TIMEOUT_MS, `${l.name} prepare`)));
  const failed = prepared.findIndex((p) => p.status === 'rejected');
  if (failed >= 0) {
    await Promise.all(loads.map((l) => l.close().catch(() => undefined)));
    throw new Error(`${loads[failed].name}: prepare failed: ${((prepared[failed] as PromiseRejectedResult).reason as Error).message}`);
  }
  for (const l of loads) l.start();
  return loads;
}

/** Stops every load, reads everything back and tallies. */
export async function finishLoads(loads: AckedLoad[], readTimeoutMs: number): Promise<LoadTally[]> {
  await Promise.all(loads.map((l) => l.stop()));
  try {
    const reads = await Promise.all(loads.map((l) => withTimeout(l.readBack(l.acknowledged, readTimeoutMs), readTimeoutMs + READ_GRACE_MS, `${l.name} read-back`)));
    return loads.map((l, i) => l.tally(reads[i]));
  } finally {
    await Promise.all(loads.map((l) => l.close().catch(() => undefined)));
  }
}

/** Crashes the broker in the same tick as the load's next acknowledgement (or after 2 s without one). */
function crashOnAck(broker: BrokerUnderTest, load: AckedLoad): Promise<string> {
  return new Promise((resolve, reject) => {
    const fire = (what: string) => {
      clearTimeout(timer);
      load.onAck = undefined;
      broker.crash().then((c) => resolve(`${c} ${what}`), reject);
    };
    const timer = setTimeout(() => fire(`(no ${load.name} acknowledgement within 2 s)`), 2000);
    load.onAck = (ids) => fire(`right after ${load.name} acknowledged ${ids[ids.length - 1]}`);
  });
}

export async function runCrashTrial(broker: BrokerUnderTest, o: TrialOptions): Promise<TrialResult> {
  const log = o.log ?? (() => undefined);
  const loads = await startLoads(o.loads, (name) => createLoad(name, {
    prefix: o.prefix, endpoints: broker.endpoints, rate: o.rate, window: o.window, sendTimeoutMs: o.sendTimeoutMs,
    kafkaReplicationFactor: o.kafkaReplicationFactor,
  }));
  const [lo, hi] = o.crashAfterMs;
  const crashAtMs = Math.round(lo + Math.random() * (hi - lo));
  await sleep(crashAtMs);
  const crash = o.crashOnAckOf ? await crashOnAck(broker, loads.find((l) => l.name === o.crashOnAckOf)!) : await broker.crash();
  const t0 = Date.now();
  log(`${crash} (${crashAtMs} ms into the load); acknowledged so far: ${loads.map((l) => `${l.name} ${l.acknowledged.size}`).join(', ')}`);
  await broker.recover();
  const recoveryMs = Date.now() - t0;
  log(`recovered in ${recoveryMs} ms`);
  await sleep(o.afterRecoveryMs);
  const rows = await finishLoads(loads, o.readTimeoutMs);
  return { prefix: o.prefix, crash, crashAtMs, recoveryMs, rows, failures: trialFailures(rows) };
}

export function tallyTable(rows: LoadTally[], extra: Array<[string, (r: LoadTally) => string | number]> = []): string {
  const head = ['protocol', 'acknowledged', 'refused', 'failed', 'received', 'lost', 'duplicated', ...extra.map(([h]) => h), 'result'];
  const body = rows.map((r) => [
    r.name, r.acknowledged, r.refused, r.failed, r.received, r.lost,
    `${r.duplicated}${r.exactlyOnce ? '' : '*'}`, ...extra.map(([, f]) => f(r)),
    r.lost > 0 || (r.exactlyOnce && r.duplicated > 0) ? 'FAIL' : 'ok',
  ]);
  return textTable([head, ...body]);
}
