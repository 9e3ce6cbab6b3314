/**
 * Follows a KV bucket's changes and keeps following them through nats-server failures. A KV watch
 * is an ordered consumer on one server; when that server is killed, nats-server 2.9 with
 * @nats-io/kv 3 sometimes leaves the watch silent for good (no error, no entry, while the bucket
 * changes), and a node that stops seeing heartbeats, owners or leaders then acts on a stale view.
 * Every CHECK_MS the follower compares the last revision it delivered with the bucket's last
 * sequence; behind and not moving for STALL_CHECKS checks in a row, the watch is replaced by one
 * that resumes right after the last revision delivered (nothing skipped, nothing delivered twice).
 */
import type { KV, KvWatchEntry, KvWatchInclude } from '@nats-io/kv';
import type { Logger } from '../../core/adapter.js';

const CHECK_MS = 1000;
const STALL_CHECKS = 3;

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
  private checked = { revision: -1, behind: 0 };
  private stopped = false;

  constructor(private readonly kv: KV, private readonly o: KvFollowerOptions) {}

  async start(): Promise<void> {
    await this.watch({ include: this.o.include });
    this.timer = setInterval(() => void this.check().catch(() => undefined), CHECK_MS);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    this.generation++;
    this.stopWatch?.();
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
      }
    })().catch((err) => {
      if (generation === this.generation) this.o.log.warn({ err: (err as Error).message }, `cluster: ${this.o.what} watch ended (replaced at the next check)`);
    });
  }

  private async check(): Promise<void> {
    if (this.stopped) return;
    const last = (await this.kv.status()).streamInfo.state.last_seq;
    if (last <= this.revision || this.revision !== this.checked.revision) {
      this.checked = { revision: this.revision, behind: 0 };
      return;
    }
    if (++this.checked.behind < STALL_CHECKS) return;
    this.o.log.warn({ revision: this.revision, bucketLastRevision: last }, `cluster: ${this.o.what} watch stalled; following again`);
    this.checked = { revision: -1, behind: 0 };
    this.stopWatch?.();
    await this.watch({ resumeFromRevision: this.revision + 1 });
  }
}
