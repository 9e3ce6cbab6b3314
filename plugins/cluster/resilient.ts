/**
 * Working through JetStream's hiccups (a nats-server killed: watches and consumers that go silent,
 * requests that hang, a restarted server without JetStream): KvFollower, readBucket, withTimeout,
 * RetryLog and NoRespondersWatch.
 *
 * NoRespondersWatch leaves a NATS server that answers no JetStream request for another.
 *
 * KvFollower follows a KV bucket's changes and keeps following them through nats-server failures. A KV watch
 * is an ordered consumer on one server; when that server is killed, nats-server 2.9 with
 * @nats-io/kv 3 sometimes leaves the watch silent for good (no error, no entry, while the bucket
 * changes), and a node that stops seeing heartbeats, owners or leaders then acts on a stale view.
 * Every CHECK_MS the follower compares the last revision it delivered with the bucket's last
 * sequence; behind and not moving for STALL_CHECKS checks in a row, the watch is replaced by one
 * that resumes right after the last revision delivered (nothing skipped, nothing delivered twice).
 */
import { KvWatchInclude, type KV, type KvEntry, type KvWatchEntry } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from '../../core/adapter.js';
import { RateLimitedLog } from '../../core/rate-limited-log.js';
import { StorageFailedError } from '../../core/storage/segment-writer.js';

/** How often a follower is compared with its source, and after how many checks behind and not moving it is replaced. */
export const CHECK_MS = 1000;
const STALL_CHECKS = 3;
const WATCH_START_MS = 15_000;
const WATCH_START_TRIES = 4;

/**
 * Says when a follower (a watch, a feed) stays behind its source without moving for STALL_CHECKS
 * checks in a row: call `stalled` once per check with the last position delivered and the
 * source's end. After it says true it starts counting afresh.
 */
export class StallWatch {
  private seen = -1;
  private behind = 0;

  stalled(position: number, end: number): boolean {
    if (end <= position || position !== this.seen) {
      this.seen = position;
      this.behind = 0;
      return false;
    }
    if (++this.behind < STALL_CHECKS) return false;
    this.seen = -1;
    this.behind = 0;
    return true;
  }
}

export interface KvFollowerOptions {
  /** What the first watch delivers: every key's last value, or changes from now on. */
  include: KvWatchInclude;
  /** Called for each entry in order; exceptions end nothing. */
  onEntry: (e: KvWatchEntry) => void;
  /** For log lines ("membership", "queue owners", ...). */
  what: string;
  log: Logger;
}

export class KvFollower {
  /** Highest revision delivered so far (0: none yet). */
  revision = 0;
  private stopWatch: (() => void) | null = null;
  private timer?: NodeJS.Timeout;
  private generation = 0;
  private readonly stall = new StallWatch();
  private stopped = false;
  /** Callers of caughtUp() waiting for revision >= their target. */
  private readonly waiters: Array<{ target: number; done: () => void }> = [];
  /** The last bucket-end request made, and the one callers share until it is sent (bucketEnd()). */
  private sentEnd: Promise<number> | null = null;
  private queuedEnd: Promise<number> | null = null;

  constructor(private readonly kv: KV, private readonly o: KvFollowerOptions) {}

  async start(): Promise<void> {
    // Creating the watch can hang while JetStream elects leaders (a nats-server just restarted).
    for (let attempt = 1; ; attempt++) {
      try {
        await withTimeout(this.watchFromNow(), WATCH_START_MS, `starting the ${this.o.what} watch`);
        break;
      } catch (err) {
        this.generation++;
        this.stopWatch?.();
        if (attempt >= WATCH_START_TRIES) throw err;
        this.o.log.warn({ err: (err as Error).message, attempt }, `cluster: ${this.o.what} watch not started (retrying)`);
      }
    }
    this.timer = setInterval(() => void this.check().catch(() => undefined), CHECK_MS);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    this.generation++;
    this.stopWatch?.();
  }

  /**
   * A watch of updates only starts at the bucket's end: what came before counts as delivered (the
   * caller reads it), so the stall check and caughtUp() measure from there.
   */
  private async watchFromNow(): Promise<void> {
    const end = this.o.include === KvWatchInclude.UpdatesOnly ? (await this.kv.status()).streamInfo.state.last_seq : 0;
    await this.watch({ include: this.o.include });
    if (end > this.revision) this.revision = end;
  }

  private async watch(opts: { include?: KvWatchInclude; resumeFromRevision?: number }): Promise<void> {
    const watch = await this.kv.watch(opts);
    const generation = ++this.generation;
    this.stopWatch = () => watch.stop();
    void (async () => {
      for await (const e of watch) {
        if (generation !== this.generation) break;
        if (e.revision > this.revision) this.revision = e.revision;
        try {
          this.o.onEntry(e);
        } catch (err) {
          this.o.log.warn({ err: (err as Error).message, key: e.key }, `cluster: ${this.o.what} entry not applied`);
        }
        this.wake();
      }
    })().catch((err) => {
      if (generation === this.generation) this.o.log.warn({ err: (err as Error).message }, `cluster: ${this.o.what} watch ended (replaced at the next check)`);
    });
  }

  /**
   * Resolves once every change written to the bucket before the call has been delivered here (a
   * read of the bucket's end from the stream leader, then a wait for the watch to pass it): what
   * another node wrote and acknowledged is then visible in this node's copy. Gives up after
   * `timeoutMs` (JetStream unavailable) by rejecting.
   */
  async caughtUp(timeoutMs: number): Promise<void> {
    const target = await withTimeout(this.bucketEnd(), timeoutMs, `reading the ${this.o.what} bucket's end`);
    if (this.revision >= target) return;
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve, reject) => {
      const waiter = { target, done: resolve };
      this.waiters.push(waiter);
      timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(new Error(`the ${this.o.what} watch is ${target - this.revision} changes behind after ${timeoutMs} ms`));
      }, timeoutMs);
    }).finally(() => clearTimeout(timer));
  }

  /**
   * The bucket's last revision as its stream leader has it. One request at a time: callers that
   * arrive while one is out share the next one, sent when it returns (its answer may predate them).
   */
  private bucketEnd(): Promise<number> {
    if (!this.queuedEnd) {
      const next = (this.sentEnd ?? Promise.resolve(0)).catch(() => 0).then(async () => {
        this.queuedEnd = null;
        return (await this.kv.status()).streamInfo.state.last_seq;
      });
      this.queuedEnd = this.sentEnd = next;
    }
    return this.queuedEnd;
  }

  private wake(): void {
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      if (this.revision >= this.waiters[i].target) this.waiters.splice(i, 1)[0].done();
    }
  }

  private async check(): Promise<void> {
    if (this.stopped) return;
    const last = (await this.kv.status()).streamInfo.state.last_seq;
    if (!this.stall.stalled(this.revision, last)) return;
    this.o.log.warn({ revision: this.revision, bucketLastRevision: last }, `cluster: ${this.o.what} watch stalled; following again`);
    this.stopWatch?.();
    await this.watch({ resumeFromRevision: this.revision + 1 });
  }
}

const READ_IDLE_MS = 10_000;
const READ_TRIES = 6;
const GET_BATCH = 100;

/**
 * Every key's current entry (deleted keys left out). kv.keys() lists through an ordered consumer,
 * which can stall like a watch: a try that makes no progress for READ_IDLE_MS is given up and
 * made again, so a node starting right after a nats-server kill does not wait forever.
 */
export async function readBucket(kv: KV, what: string, log: Logger, progress?: (phase: string) => void): Promise<KvEntry[]> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await readOnce(kv, progress);
    } catch (err) {
      if (attempt >= READ_TRIES) throw err;
      log.warn({ err: (err as Error).message, attempt }, `cluster: reading ${what} failed (retrying)`);
    }
  }
}

async function readOnce(kv: KV, report?: (phase: string) => void): Promise<KvEntry[]> {
  report?.('listing the keys');
  // Creating the listing's consumer can hang too (seen right after a nats-server restart).
  const keys = await withTimeout(kv.keys(), READ_IDLE_MS, 'starting the key listing');
  let idle: NodeJS.Timeout | undefined;
  let stall!: (err: Error) => void;
  const stalled = new Promise<never>((_, reject) => (stall = reject));
  stalled.catch(() => undefined);
  const progress = () => {
    clearTimeout(idle);
    idle = setTimeout(() => {
      keys.stop();
      stall(new Error(`no progress listing the keys for ${READ_IDLE_MS} ms`));
    }, READ_IDLE_MS);
  };
  try {
    progress();
    const names = await Promise.race([(async () => {
      // The listing is an ordered consumer: one that resets (a nats-server restarting) starts again
      // from the first key and would go round for ever. A key seen twice ends this try.
      const out = new Set<string>();
      for await (const k of keys) {
        if (out.has(k)) {
          keys.stop();
          throw new Error('the key listing started over');
        }
        out.add(k);
        progress();
      }
      return [...out];
    })(), stalled]);
    const entries: KvEntry[] = [];
    for (let i = 0; i < names.length; i += GET_BATCH) {
      report?.(`reading values ${i}/${names.length}`);
      const got = await Promise.race([Promise.all(names.slice(i, i + GET_BATCH).map((k) => kv.get(k))), stalled]);
      progress();
      for (const e of got) if (e !== null && e.operation === 'PUT') entries.push(e);
    }
    return entries;
  } finally {
    clearTimeout(idle);
  }
}

/**
 * A cluster operation that failed and is retried: losing a compare-and-set race to another node is
 * normal (debug); any other failure is logged, rate-limited, so one that keeps failing shows.
 */
export class RetryLog {
  private readonly limited: RateLimitedLog;

  constructor(private readonly log: Logger) {
    this.limited = new RateLimitedLog(log, 'cluster', 10);
  }

  note(obj: Record<string, unknown>, msg: string): void {
    if (/wrong last sequence|key exists/i.test(String(obj.err))) this.log.debug(obj, msg);
    else this.limited.info(obj, msg);
  }

  /** A retry that would meet the same conditions: always worth a (rate-limited) line. */
  stuck(obj: Record<string, unknown>, msg: string): void {
    this.limited.warn(obj, msg);
  }
}

/**
 * `work`, or a rejection after `ms`: a cluster operation (a claim, a resync) must never hold its
 * key busy for good because one JetStream call never answered. The work itself is not cancelled.
 */
export function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took over ${ms} ms`)), ms);
  });
  return Promise.race([work, timedOut]).finally(() => clearTimeout(timer));
}

/**
 * A JetStream write that failed (no quorum, a server just killed, a timeout) as the store error every
 * adapter already answers with its protocol's refusal, without a stack: nothing was acknowledged.
 */
export function storeRefused(err: unknown): never {
  throw new StorageFailedError(`cluster storage unavailable: ${(err as Error).message}`, { cause: err });
}

/**
 * A nats-server that was just restarted accepts clients before it has rejoined its cluster: every
 * JetStream request through it then finds no responders (JetStreamNotEnabled) for seconds. A node
 * whose connection landed there stops heartbeating and is judged dead by the others, though two
 * good servers are up. Told of every heartbeat's outcome, this leaves such a server for the next
 * one in the pool (nats.js reconnects round-robin) once its requests have found no responders for
 * `afterMs` in a row; at most once per `afterMs`.
 */
export class NoRespondersWatch {
  private since = 0;
  private switchedAt = 0;

  constructor(private readonly nc: NatsConnection, private readonly afterMs: number, private readonly log: Logger) {}

  heartbeat(err: unknown): void {
    if (!(err instanceof Error) || err.name !== 'JetStreamNotEnabled') {
      this.since = 0;
      return;
    }
    const now = Date.now();
    if (this.since === 0) this.since = now;
    if (now - this.since < this.afterMs || now - this.switchedAt < this.afterMs) return;
    this.since = 0;
    this.switchedAt = now;
    this.log.warn({ server: this.nc.getServer(), ms: this.afterMs }, 'cluster: the NATS server answers no JetStream request (not back in its cluster yet); connecting to another');
    void this.nc.reconnect().catch((e: Error) => this.log.warn({ err: e.message }, 'cluster: reconnecting to another NATS server failed'));
  }
}
