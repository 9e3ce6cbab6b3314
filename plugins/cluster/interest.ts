/**
 * Which node wants which topics: each node stores the topic patterns its own queues (transient
 * subscriptions, temporary and exclusive queues: everything but shared queues) are bound to in the
 * KV bucket `junction-interest`, key = node id, and follows the others' entries. A publishing node
 * fans a message out only when a live node's pattern matches its topic, so a Kafka produce with no
 * subscriber elsewhere is decoded and fanned out nowhere.
 *
 * A subscription is confirmed to its client (bindQueue awaits advertise) only once the node's entry
 * is stored and every other live node has applied it: each node answers `junction.interest.seen.<id>`
 * with the KV revision it must have applied, when its watch has got that far (or after
 * SEEN_TIMEOUT_MS, so one slow node delays subscriptions without failing them). A message
 * published anywhere after the confirmation reaches the subscriber. A node's stale patterns only
 * cost messages it then ignores.
 */
import { KvWatchInclude, type KV } from '@nats-io/kv';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Logger } from '../../core/adapter.js';
import { TopicRouter } from '../../core/router.js';
import { KvFollower, readBucket } from './resilient.js';

/** Past this many bytes of patterns a node asks for everything (`#`) instead. */
const MAX_ENTRY_BYTES = 512 * 1024;
const RETRY_MS = 1000;
/** How long a node waits for its watch to reach a revision another node asks about, and how long that node waits for the answer. */
const SEEN_TIMEOUT_MS = 3000;

const seenSubject = (node: number) => `junction.interest.seen.${node}`;

export class Interest {
  private readonly router = new TopicRouter<number>();
  private stopWatch: (() => void) | null = null;
  private retry?: NodeJS.Timeout;
  private latest: string[] | null = null;
  /** Highest KV revision this node's watch has applied, and the questions waiting for a higher one. */
  private seen = 0;
  private waiting: Array<{ revision: number; answer: () => void }> = [];
  private seenSub: Subscription | null = null;

  constructor(
    private readonly nc: NatsConnection,
    private readonly kv: KV,
    private readonly nodeId: number,
    private readonly liveIds: () => Set<number>,
    private readonly log: Logger,
  ) {}

  /** Loads every node's entry, then follows changes. */
  async start(): Promise<void> {
    // Follow first, then read every key: an entry changed meanwhile is applied twice, never missed.
    const follower = new KvFollower(this.kv, {
      include: KvWatchInclude.UpdatesOnly, what: 'interest', log: this.log,
      onEntry: (e) => {
        this.apply(Number(e.key), e.operation === 'PUT' ? e.string() : '[]');
        this.reached(e.revision);
      },
    });
    await follower.start();
    this.stopWatch = () => follower.stop();
    for (const e of await readBucket(this.kv, 'interest', this.log)) {
      this.apply(Number(e.key), e.string());
      this.reached(e.revision);
    }
    this.seenSub = this.nc.subscribe(seenSubject(this.nodeId), {
      callback: (err, m) => {
        const revision = Number(m?.string());
        if (err || !Number.isFinite(revision)) return;
        if (revision <= this.seen) m.respond();
        else this.waitFor(revision, () => m.respond());
      },
    });
  }

  /** True when another live node wants `topic`. */
  wanted(topic: string): boolean {
    const bindings = this.router.match(topic);
    if (bindings.length === 0) return false;
    const live = this.liveIds();
    return bindings.some((b) => b.target !== this.nodeId && live.has(b.target));
  }

  /** Stores this node's patterns; a failure is logged and retried (never fails a subscription). */
  async advertise(patterns: string[]): Promise<void> {
    this.latest = patterns;
    clearTimeout(this.retry);
    let value = JSON.stringify(patterns);
    if (value.length > MAX_ENTRY_BYTES) value = JSON.stringify(['#']);
    let revision: number;
    try {
      revision = await this.kv.put(String(this.nodeId), value);
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'cluster: interest not stored (retried)');
      this.retry = setTimeout(() => { if (this.latest === patterns) void this.advertise(patterns); }, RETRY_MS);
      this.retry.unref();
      return;
    }
    const others = [...this.liveIds()].filter((n) => n !== this.nodeId);
    await Promise.all(others.map((n) => this.nc.request(seenSubject(n), String(revision), { timeout: SEEN_TIMEOUT_MS }).catch(() => undefined)));
  }

  async stop(): Promise<void> {
    clearTimeout(this.retry);
    this.stopWatch?.();
    this.seenSub?.unsubscribe();
    for (const w of this.waiting.splice(0)) w.answer();
    await this.kv.delete(String(this.nodeId)).catch(() => undefined);
  }

  private reached(revision: number): void {
    if (revision <= this.seen) return;
    this.seen = revision;
    const due = this.waiting.filter((w) => w.revision <= revision);
    if (due.length === 0) return;
    this.waiting = this.waiting.filter((w) => w.revision > revision);
    for (const w of due) w.answer();
  }

  private waitFor(revision: number, answer: () => void): void {
    const w = { revision, answer };
    this.waiting.push(w);
    setTimeout(() => {
      const i = this.waiting.indexOf(w);
      if (i < 0) return;
      this.waiting.splice(i, 1);
      answer();
    }, SEEN_TIMEOUT_MS).unref();
  }

  private apply(node: number, json: string): void {
    if (!Number.isInteger(node) || node === this.nodeId) return;
    let patterns: unknown;
    try {
      patterns = JSON.parse(json);
    } catch {
      return;
    }
    const key = `n:${node}`;
    this.router.unbindAll(key);
    if (!Array.isArray(patterns)) return;
    for (const pattern of patterns) {
      try {
        if (typeof pattern === 'string') this.router.bind(key, { pattern, target: node });
      } catch {
        // A pattern this version cannot parse: ignored.
      }
    }
  }
}
