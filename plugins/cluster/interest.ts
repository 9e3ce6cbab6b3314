/**
 * Which node wants which topics: each node stores the topic patterns its own queues (transient
 * subscriptions, temporary and exclusive queues: everything but shared queues) are bound to in the
 * KV bucket `junction-interest`, key = node id, and follows the others' entries. A publishing node
 * fans a message out only when a live node's pattern matches its topic, so a Kafka produce with no
 * subscriber elsewhere is decoded and fanned out nowhere.
 *
 * A node's entry is stored before its subscription is confirmed to the client (bindQueue awaits
 * it); the others apply it when their watch delivers it, a few milliseconds later on one network.
 * A node's stale patterns only cost messages it then ignores.
 */
import { KvWatchInclude, type KV } from '@nats-io/kv';
import type { Logger } from '../../core/adapter.js';
import { TopicRouter } from '../../core/router.js';

/** Past this many bytes of patterns a node asks for everything (`#`) instead. */
const MAX_ENTRY_BYTES = 512 * 1024;
const RETRY_MS = 1000;

export class Interest {
  private readonly router = new TopicRouter<number>();
  private stopWatch: (() => void) | null = null;
  private retry?: NodeJS.Timeout;
  private latest: string[] | null = null;

  constructor(
    private readonly kv: KV,
    private readonly nodeId: number,
    private readonly liveIds: () => Set<number>,
    private readonly log: Logger,
  ) {}

  /** Loads every node's entry, then follows changes. */
  async start(): Promise<void> {
    for await (const key of await this.kv.keys()) {
      const e = await this.kv.get(key);
      if (e && e.operation === 'PUT') this.apply(Number(key), e.string());
    }
    const watch = await this.kv.watch({ include: KvWatchInclude.UpdatesOnly });
    this.stopWatch = () => watch.stop();
    void (async () => {
      for await (const e of watch) this.apply(Number(e.key), e.operation === 'PUT' ? e.string() : '[]');
    })().catch((err) => this.log.warn({ err: (err as Error).message }, 'cluster: interest watch ended'));
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
    try {
      await this.kv.put(String(this.nodeId), value);
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'cluster: interest not stored (retried)');
      this.retry = setTimeout(() => { if (this.latest === patterns) void this.advertise(patterns); }, RETRY_MS);
      this.retry.unref();
    }
  }

  async stop(): Promise<void> {
    clearTimeout(this.retry);
    this.stopWatch?.();
    await this.kv.delete(String(this.nodeId)).catch(() => undefined);
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
