/**
 * The owner's side of an attachment: a node with consumers of a queue it does not own attaches to
 * the owner, which adds a consumer standing for that node with a window of REMOTE_WINDOW
 * deliveries and forwards them to `junction.qd.<node>`; the node's acks, rejects and detaches come
 * back as control requests. Deliveries cross on a plain subject, at most once: one lost on the way
 * (a nats-server killed with it in flight) would hold a window slot for ever, so the owner asks
 * the node about deliveries unacknowledged for UNACKED_CHECK_MS (`check`) and requeues those the
 * node does not hold (nor is acknowledging). A node that dies has its deliveries requeued.
 */
import { headers as natsHeaders, type NatsConnection } from '@nats-io/transport-node';
import type { Logger } from '../../core/adapter.js';
import { encodeMessage } from '../../core/message-codec.js';
import type { Queue } from '../../core/queue.js';
import type { Consumer } from '../../core/queue-consumer.js';

/** Deliveries an owner forwards to one node ahead of its acknowledgements. */
const REMOTE_WINDOW = 64;
/** A forwarded delivery unacknowledged this long is checked with its node (lost on the way?). */
const UNACKED_CHECK_MS = 5000;

interface RemoteConsumer {
  node: number;
  consumer: Consumer;
  /** Forwarded and not settled: sequence -> delivery tag and when it was sent. */
  tags: Map<number, { tag: number; at: number }>;
  checking: boolean;
}

/** Asks a node which of the given forwarded sequences of `queue` it holds. */
export type HeldQuery = (node: number, queue: string, seqs: number[]) => Promise<number[]>;

export class RemoteConsumers {
  /** Consumers standing for other nodes, by `node \0 queue`. */
  private readonly remotes = new Map<string, RemoteConsumer>();

  constructor(
    private readonly nc: NatsConnection,
    private readonly self: number,
    private readonly held: HeldQuery,
    private readonly log: Logger,
  ) {}

  has(node: number, queue: string): boolean {
    return this.remotes.has(`${node}\u0000${queue}`);
  }

  /** `node` attaches to `q`: a consumer forwarding to it. */
  attach(q: Queue, node: number): void {
    const key = `${node}\u0000${q.name}`;
    if (this.remotes.has(key)) return;
    const tags = new Map<number, { tag: number; at: number }>();
    const subject = `junction.qd.${node}`;
    const consumer = q.consume({ prefetch: REMOTE_WINDOW, autoAck: false, creditMode: false }, (d) => {
      tags.set(d.seq, { tag: d.tag, at: Date.now() });
      const h = natsHeaders();
      h.set('Q', q.name);
      h.set('O', String(this.self));
      h.set('S', String(d.seq));
      h.set('D', String(d.deliveryCount));
      h.set('R', d.redelivered ? '1' : '0');
      this.nc.publish(subject, encodeMessage(d.message), { headers: h });
    });
    this.remotes.set(key, { node, consumer, tags, checking: false });
  }

  /** `node` detaches from `q`: what it had not settled goes back to the queue. */
  async detach(q: Queue, node: number): Promise<void> {
    const key = `${node}\u0000${q.name}`;
    const rc = this.remotes.get(key);
    if (!rc) return;
    this.remotes.delete(key);
    for (const tag of rc.consumer.unackedTags()) await rc.consumer.nack(tag, { requeue: true, failed: false });
    rc.consumer.close(false);
  }

  /**
   * Settles a delivery `node` acknowledged or rejected. False when it is not one of this owner's
   * forwarded deliveries (a previous owner forwarded it): the caller settles it wherever it is.
   */
  async settle(q: Queue, node: number, seq: number, reject: boolean): Promise<boolean> {
    const rc = this.remotes.get(`${node}\u0000${q.name}`);
    const tag = rc?.tags.get(seq)?.tag;
    if (!rc || tag === undefined || !rc.consumer.isUnacked(tag)) return false;
    rc.tags.delete(seq);
    await (reject ? rc.consumer.reject(tag) : rc.consumer.ack(tag));
    return true;
  }

  /** The queue is another node's now (or gone): its remote consumers stop, their deliveries stay with the queue. */
  dropQueue(name: string, pause: boolean): void {
    for (const [key, rc] of this.remotes) {
      if (!key.endsWith(`\u0000${name}`)) continue;
      if (pause) rc.consumer.pause();
      this.remotes.delete(key);
    }
  }

  /** Consumers standing for nodes that died: their deliveries go back to the queue. */
  dropDead(live: ReadonlySet<number>): void {
    for (const [key, rc] of this.remotes) {
      if (live.has(rc.node)) continue;
      this.remotes.delete(key);
      rc.consumer.close(true);
    }
  }

  /**
   * Deliveries forwarded to another node and unacknowledged for UNACKED_CHECK_MS: the node says
   * which it holds; the others were lost on the way and go back to the queue (delivered again).
   */
  checkUnacked(): void {
    const old = Date.now() - UNACKED_CHECK_MS;
    for (const [key, rc] of this.remotes) {
      if (rc.checking) continue;
      const seqs: number[] = [];
      for (const [seq, t] of rc.tags) {
        if (!rc.consumer.isUnacked(t.tag)) rc.tags.delete(seq);
        else if (t.at < old) seqs.push(seq);
      }
      if (seqs.length === 0) continue;
      const queue = key.slice(key.indexOf('\u0000') + 1);
      rc.checking = true;
      void this.held(rc.node, queue, seqs)
        .then(async (heldSeqs) => {
          const held = new Set(heldSeqs);
          let lost = 0;
          for (const seq of seqs) {
            const t = rc.tags.get(seq);
            if (held.has(seq) || !t || !rc.consumer.isUnacked(t.tag) || this.remotes.get(key) !== rc) continue;
            rc.tags.delete(seq);
            await rc.consumer.nack(t.tag, { requeue: true, failed: false });
            lost++;
          }
          if (lost > 0) this.log.warn({ queue, node: rc.node, lost }, 'cluster: deliveries lost on the way to a node were requeued');
          for (const seq of held) { const t = rc.tags.get(seq); if (t) t.at = Date.now(); }
        })
        .catch(() => undefined)
        .finally(() => { rc.checking = false; });
    }
  }
}
