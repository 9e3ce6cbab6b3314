/**
 * A consumer link (the peer receives; our rhea Sender), backed by one core queue consumer in
 * credit mode: queue.consume({creditMode: true, prefetch: 0, autoAck: <pre-settled link>}).
 *
 * Sources:
 *  - /queue/x (and the other queue forms): the queue (created on first use unless configured not to).
 *  - /topic/pattern: a subscription queue bound to the pattern. Transient by default (exclusive,
 *    auto-delete, `tmp.amqp.<connection>.<n>`); with a durable terminus (durable >= 1) and
 *    expiry-policy `never` a named durable queue `amqp.sub.<container-id>:<link-name>` that a later
 *    attach resumes and a detach with closed=true deletes. The `shared` capability (JMS 2.0 shared
 *    subscriptions) names it by the subscription name (link name up to `|`), and `global` leaves the
 *    container-id out: `amqp.sub.<name>`. Shared non-durable ones are `amqp.vsub.<...>` (auto-delete).
 *  - dynamic: a temporary queue `tmp.amqp.<connection>.<n>` whose address `/queue/tmp...` is
 *    returned in the attach (usable as reply-to).
 *  - null source: the durable subscription named by the link (Qpid JMS recovery / unsubscribe).
 *  - a queue with `distribution-mode: copy` (Qpid JMS QueueBrowser): a core QueueBrowser over the
 *    messages ready at attach, sent settled and taken by nobody; a drain ends the browse.
 *
 * Credit: the core consumer's credit is kept at (delivery-count + link-credit from the peer's last
 * flow) minus what was handed out, so it never exceeds the link credit. Deliveries start only once
 * our attach reply is written (Proton drops connections that see transfers first). Drain: what the
 * queue has now is delivered, then the rest of the credit is consumed and the flow echoed with
 * drain=true. Outcomes: accepted = ack, released = requeue, modified(delivery-failed) = requeue
 * counting a failed delivery, modified(undeliverable-here) = requeue avoiding this consumer,
 * rejected = dead-letter queue. Settled without an outcome counts as accepted.
 */
import { checkTopicPattern } from '../../core/names.js';
import type { Queue } from '../../core/queue.js';
import type { QueueBrowser } from '../../core/queue-browser.js';
import type { Consumer } from '../../core/queue-consumer.js';
import { ownerOf, type Delivery } from '../../core/queue-types.js';
import { compileSelector, SelectorError, type Selector } from '../../core/selector.js';
import { parseAddress } from './address.js';
import { encodeAmqpMessage } from './amqp-message.js';
import type { LinkContext } from './link-context.js';
import { capabilitiesOf, tagBuffer, terminusOf, type LinkHandler } from './link-handler.js';
import { RheaEngine, type RDelivery, type RLink, type RTerminus } from './rhea-internals.js';
import { AmqpConditionError, COND, conditionOf, parseOutcome, type ParsedOutcome } from './states.js';

const NO_LOCAL_FILTERS = new Set(['apache.org:no-local-filter:list', 0x0000468c00000003]);
const SELECTOR_FILTERS = new Set(['apache.org:selector-filter:string', 0x0000468c00000004]);

interface Overflowed {
  tag: number;
  bytes: Buffer;
}

function filterEntries(src: RTerminus): Array<[string, unknown]> {
  const f = src.filter;
  if (!f || typeof f !== 'object') return [];
  return Object.entries(f);
}

function isNoLocal(v: unknown): boolean {
  const d = (v as { descriptor?: { value?: unknown } } | null)?.descriptor?.value;
  return NO_LOCAL_FILTERS.has(d as string | number);
}

function isSelector(v: unknown): boolean {
  const d = (v as { descriptor?: { value?: unknown } } | null)?.descriptor?.value;
  return SELECTOR_FILTERS.has(d as string | number);
}

/** A JMS selector filter (Qpid JMS `jms-selector`): compiled, or amqp:invalid-field. */
function compileSelectorFilter(v: unknown): Selector {
  const inner = (v as { value?: unknown }).value;
  const source = typeof inner === 'string' ? inner : (inner as { value?: unknown } | null)?.value;
  if (typeof source !== 'string') throw new AmqpConditionError(COND.invalidField, 'the selector filter must carry a string');
  try {
    return compileSelector(source);
  } catch (err) {
    if (err instanceof SelectorError) throw new AmqpConditionError(COND.invalidField, `invalid selector: ${err.message}`);
    throw err;
  }
}

export class OutgoingLink implements LinkHandler {
  /** The core consumer, or the browser of a `distribution-mode: copy` link (settled deliveries only). */
  consumer: Consumer | QueueBrowser | null = null;
  /** Browsing (copy) instead of consuming (move). */
  private browsing = false;
  /** The source's JMS selector filter, if any. */
  private selector: Selector | undefined;
  /** The queue is this link's own topic subscription: what the selector refuses is dropped, not kept. */
  private topicStyle = false;
  private sent = 0;
  private consumedByDrain = 0;
  draining = false;
  private overflow: Overflowed[] = [];
  private ready = false;
  private closed = false;
  private presettled: boolean;
  /** The durable (or shared) subscription queue this link consumes, deleted by a closing detach. */
  private subscription: { name: string; durable: boolean } | null = null;

  constructor(readonly conn: LinkContext, readonly link: RLink) {
    const a = link.remote.attach!;
    const snd = typeof a.snd_settle_mode === 'number' && a.snd_settle_mode <= 2 ? a.snd_settle_mode : 2;
    link.local.attach.snd_settle_mode = snd;
    link.local.attach.rcv_settle_mode = 0;
    this.presettled = snd === 1;
    const remoteTarget = terminusOf(a.target);
    if (remoteTarget) link.local.attach.target = remoteTarget.described();
    RheaEngine.onDrainWrite(link, () => this.completeDrain());
    let opening: Promise<Queue> | Queue;
    try {
      opening = this.plan(terminusOf(a.source));
    } catch (err) {
      const c = conditionOf(err);
      conn.links.refuse(link, c.condition, c.description ?? '');
      return;
    }
    if (opening instanceof Promise) {
      conn.links.holdAttach(link);
      conn.track(opening.then((q) => {
        if (this.closed) {
          this.attachConsumer(q); // cleans up what was made for a link already gone
          return;
        }
        // Checked before the attach reply goes out, so a refusal still carries a null source.
        if (q.options.exclusiveOwner !== undefined && q.options.exclusiveOwner !== conn.id) {
          this.fail(new AmqpConditionError(COND.resourceLocked, `queue ${q.name} is exclusive to another connection`));
          return;
        }
        conn.links.releaseAttach(link);
        this.attachConsumer(q);
      }, (err) => this.fail(err)));
    } else {
      this.attachConsumer(opening);
    }
  }

  private fail(err: unknown): void {
    if (this.closed) return;
    this.conn.links.closeLink(this.link, conditionOf(err));
  }

  /**
   * Decides what the source names and sets the source of our attach reply. Refusals are thrown
   * synchronously (so the reply carries a null source); work in the core may continue in a promise.
   */
  private plan(src: RTerminus | null): Promise<Queue> | Queue {
    const { broker, settings } = this.conn.rt;
    if (!src || ((src.address === undefined || src.address === null) && !src.dynamic)) return this.recover();
    if (src.distribution_mode === 'copy') this.startBrowsing();
    const caps = capabilitiesOf(src);
    // Keep only the filters we apply (no-local, selector); the client sees the others were not taken.
    const filters = filterEntries(src);
    const noLocal = filters.some(([, v]) => isNoLocal(v));
    const selectorFilter = filters.find(([, v]) => isSelector(v));
    if (selectorFilter) this.selector = compileSelectorFilter(selectorFilter[1]);
    if (filters.length > 0) {
      const kept = filters.filter(([, v]) => isNoLocal(v) || v === selectorFilter?.[1]);
      src.filter = kept.length > 0 ? Object.fromEntries(kept) : null;
    }

    if (src.dynamic) {
      const name = this.conn.newTempQueueName();
      src.address = `/queue/${name}`;
      this.link.local.attach.source = src.described();
      return broker.declareQueue(name, { autoDelete: true, exclusiveOwner: this.conn.id, labels: { protocol: 'amqp', kind: 'temporary' } });
    }

    const node = parseAddress(src.address!, settings.bareName, caps);
    if (!node) throw new AmqpConditionError(COND.notFound, `no node at address ${src.address}`);
    if (node.kind === 'queue') {
      if (!this.conn.authorise('consume', node.name)) throw new AmqpConditionError(COND.unauthorized, `not allowed to consume from ${node.name}`);
      const q = broker.getQueue(node.name);
      if (q && q.options.exclusiveOwner !== undefined && q.options.exclusiveOwner !== this.conn.id) {
        throw new AmqpConditionError(COND.resourceLocked, `queue ${node.name} is exclusive to another connection`);
      }
      this.link.local.attach.source = src.described();
      if (q) return q;
      if (node.mustExist || !settings.autoCreateQueues || node.name.startsWith('tmp.')) {
        throw new AmqpConditionError(COND.notFound, `queue ${node.name} does not exist`);
      }
      return broker.declareQueue(node.name, { durable: true, labels: { protocol: 'amqp', owner: ownerOf(this.conn.principal) } });
    }

    if (this.browsing) throw new AmqpConditionError(COND.notImplemented, 'distribution-mode copy (browsing) works on queues only');
    const pattern = node.name;
    checkTopicPattern(pattern);
    this.topicStyle = true;
    if (!this.conn.authorise('subscribe', pattern)) throw new AmqpConditionError(COND.unauthorized, `not allowed to subscribe to ${pattern}`);
    const durable = (src.durable ?? 0) > 0 && src.expiry_policy === 'never';
    const shared = caps.includes('shared');
    const global = caps.includes('global');
    this.link.local.attach.source = src.described();
    if (!durable && !shared) {
      const name = this.conn.newTempQueueName();
      return (async () => {
        const q = await broker.declareQueue(name, { autoDelete: true, exclusiveOwner: this.conn.id, labels: { protocol: 'amqp', kind: 'subscription' } });
        await broker.bindQueue(name, pattern, noLocal ? { noLocalOwner: this.conn.id } : {});
        return q;
      })();
    }
    const subName = shared ? this.link.name.split('|')[0] : this.link.name;
    const prefix = durable ? 'amqp.sub.' : 'amqp.vsub.';
    const name = global ? `${prefix}${subName}` : `${prefix}${this.conn.remoteContainerId}:${subName}`;
    this.subscription = { name, durable };
    const existing = broker.getQueue(name);
    const bindings = existing ? broker.bindingsOf(name) : [];
    const same = bindings.length === 1 && bindings[0].pattern === pattern && (bindings[0].noLocalOwner !== undefined) === noLocal;
    if (existing && existing.consumers.length > 0 && (!shared || !same)) {
      this.subscription = null;
      throw new AmqpConditionError(COND.resourceLocked, `subscription ${subName} is in use`);
    }
    if (existing && same) return existing;
    return (async () => {
      // A changed topic or filter is a new subscription (JMS): the old one goes.
      if (existing) await broker.deleteQueue(name);
      const q = await broker.declareQueue(name, {
        durable,
        autoDelete: !durable,
        labels: { protocol: 'amqp', kind: 'subscription', address: src.address ?? '', pattern, capabilities: caps.join(',') },
      });
      await broker.bindQueue(name, pattern, noLocal ? { noLocalOwner: this.conn.id } : {});
      return q;
    })();
  }

  /** A copy link browses: its deliveries are settled (nothing to acknowledge), whatever the peer asked. */
  private startBrowsing(): void {
    this.browsing = true;
    this.presettled = true;
    this.link.local.attach.snd_settle_mode = 1;
  }

  /** A null source: the durable subscription the link name stands for, if there is one. */
  private recover(): Queue {
    const { broker } = this.conn.rt;
    const name = this.link.name;
    const base = name.split('|')[0];
    const cid = this.conn.remoteContainerId;
    for (const candidate of [`amqp.sub.${cid}:${name}`, `amqp.sub.${cid}:${base}`, `amqp.sub.${base}`]) {
      const q = broker.getQueue(candidate);
      if (!q || q.options.labels?.kind !== 'subscription') continue;
      const labels = q.options.labels;
      const pattern = labels.pattern ?? '';
      if (!this.conn.authorise('subscribe', pattern)) throw new AmqpConditionError(COND.unauthorized, `not allowed to subscribe to ${pattern}`);
      if (q.consumers.length > 0 && !(labels.capabilities ?? '').split(',').includes('shared')) {
        throw new AmqpConditionError(COND.resourceLocked, `subscription ${base} is in use`);
      }
      const caps = (labels.capabilities ?? '').split(',').filter((c) => c.length > 0);
      (this.link as unknown as { set_source(f: Record<string, unknown>): void }).set_source({
        address: labels.address || `/topic/${pattern}`,
        durable: 2,
        expiry_policy: 'never',
        ...(caps.length > 0 ? { capabilities: caps } : {}),
      });
      this.subscription = { name: candidate, durable: true };
      return q;
    }
    throw new AmqpConditionError(COND.notFound, `no subscription ${base}`);
  }

  private attachConsumer(queue: Queue): void {
    if (this.closed) {
      if (queue.options.autoDelete && queue.consumers.length === 0) this.conn.quiet(this.conn.rt.broker.deleteQueue(queue.name));
      return;
    }
    let consumer: Consumer | QueueBrowser;
    try {
      const selecting = this.selector ? { selector: this.selector, dropUnselected: this.topicStyle } : {};
      consumer = this.browsing
        ? queue.browse({ creditMode: true, owner: this.conn.id, ...selecting }, (d) => this.deliver(d))
        : queue.consume({ prefetch: 0, autoAck: this.presettled, creditMode: true, owner: this.conn.id, ...selecting }, (d) => this.deliver(d));
    } catch (err) {
      this.fail(err);
      return;
    }
    consumer.onCancel = () => {
      if (!this.closed) this.conn.links.closeLink(this.link, { condition: 'amqp:resource-deleted', description: `queue ${queue.name} was deleted` });
    };
    this.consumer = consumer;
    if (this.conn.blocked) consumer.pause();
    this.conn.links.whenAttached(this.link, () => {
      if (this.closed) return;
      this.ready = true;
      this.applyCredit();
      if (RheaEngine.peerDraining(this.link)) this.drain();
    });
  }

  /** The peer's flow: credit (absolute limit = its delivery-count + link-credit) minus what we handed out. */
  onFlow(): void {
    if (!this.ready) return;
    if (this.draining && !RheaEngine.peerDraining(this.link)) this.draining = false;
    this.applyCredit();
  }

  private applyCredit(): void {
    const c = this.consumer;
    if (!c || this.closed) return;
    const limit = this.link.credit + this.link.delivery_count;
    const avail = limit - (this.sent + this.consumedByDrain);
    c.setCredit(Number.isFinite(avail) ? Math.max(0, avail) : 0);
  }

  /** The peer asked to drain. */
  drain(): void {
    if (!this.ready || !this.consumer) return;
    // Paged-out messages are available too: the drain is answered once they were read and sent.
    this.consumer.drain(() => this.conn.engine.schedule());
    this.draining = true;
    this.conn.links.watchDrain(this);
    this.conn.engine.flow(this.link);
  }

  /** True once a requested drain can be answered (every handed-out delivery transferred). */
  drainReady(): boolean {
    return this.draining && this.overflow.length === 0 && !this.consumer?.drainPending
      && this.sent + this.consumedByDrain - this.link.delivery_count <= 0;
  }

  /** rhea's hook while writing this link's flow: consume the remaining credit and set drain. */
  private completeDrain(): boolean {
    if (!this.drainReady()) return false;
    const left = Math.max(0, this.link.credit);
    this.consumedByDrain += left;
    this.link.delivery_count += left;
    this.link.credit = 0;
    this.draining = false;
    this.conn.links.unwatchDrain(this);
    return true;
  }

  private deliver(d: Delivery): void {
    let bytes: Buffer;
    try {
      bytes = encodeAmqpMessage(d.message, { deliveryCount: d.deliveryCount, firstAcquirer: !d.redelivered, queue: d.queue });
    } catch (err) {
      // Called from inside the core's dispatch (maybe another protocol's publish): never throw there.
      this.conn.log.warn({ err: (err as Error).message, queue: d.queue }, 'AMQP: message cannot be encoded; dead-lettered');
      const c = this.consumer;
      queueMicrotask(() => {
        if (!c || c.closed) return;
        if (!this.presettled) this.conn.quiet(c.reject(d.tag));
        c.addCredit(1); // nothing went out on the link: its credit is still there
      });
      return;
    }
    this.sent++;
    if (this.overflow.length > 0 || RheaEngine.sessionRoom(this.link) <= 0) {
      this.overflow.push({ tag: d.tag, bytes });
      this.consumer?.pause();
      this.conn.links.needsFlush(this);
      return;
    }
    this.push(d.tag, bytes);
  }

  private push(tag: number, bytes: Buffer): void {
    const rd = this.link.send(bytes, tagBuffer(tag), 0);
    this.conn.client.messagesOut++;
    rd.coreTag = tag;
    this.conn.handedOut(bytes.length);
  }

  /** Room again in the session (or on the socket): hand over what waited, then resume the consumer. */
  flush(): void {
    if (this.closed) return;
    while (this.overflow.length > 0 && RheaEngine.sessionRoom(this.link) > 0) {
      const o = this.overflow.shift()!;
      this.push(o.tag, o.bytes);
    }
    if (this.overflow.length === 0 && !this.conn.blocked) this.consumer?.resume();
  }

  pause(): void {
    this.consumer?.pause();
  }

  /** A disposition from the peer for one of our deliveries. */
  outcome(d: RDelivery, state: unknown, settled: boolean): void {
    if (settled) {
      d.remote_settled = true;
      d.settled = true;
    }
    const c = this.browsing ? null : this.consumer as Consumer | null;
    const tag = d.coreTag;
    if (this.closed || !c || tag === undefined || this.presettled) return;
    let o = parseOutcome(state);
    if (!o) {
      if (!settled) return;
      o = { kind: 'accepted' };
    }
    if (o.kind === 'received') {
      if (settled) this.conn.quiet(c.nack(tag, { requeue: true, failed: false }));
      return;
    }
    if (o.kind === 'transactional') {
      if (!this.conn.stageDisposition(c, tag, o.txnId, o.outcome)) {
        this.conn.links.closeLink(this.link, { condition: COND.txnUnknown, description: 'unknown transaction' });
        return;
      }
    } else {
      this.conn.quiet(applyOutcome(c, tag, o));
    }
    if (!settled) d.update(true);
  }

  detached(closed: boolean): void {
    const sub = this.subscription;
    this.finish();
    if (closed && sub) {
      const q = this.conn.rt.broker.getQueue(sub.name);
      if (q && q.consumers.length === 0) this.conn.quiet(this.conn.rt.broker.deleteQueue(sub.name));
    }
    if (closed) this.link.close();
    else this.link.detach();
  }

  dispose(): void {
    this.finish();
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    this.conn.links.unwatchDrain(this);
    this.conn.links.linkGone(this);
    this.overflow = [];
    this.consumer?.close();
  }
}

const DONE = Promise.resolve();

/** Applies an outcome to a core delivery; the promise settles once the change is stored. */
export function applyOutcome(c: Consumer, tag: number, o: ParsedOutcome): Promise<void> {
  switch (o.kind) {
    case 'accepted': return c.ack(tag);
    case 'released': return c.nack(tag, { requeue: true, failed: false });
    case 'modified': return c.nack(tag, { requeue: true, failed: o.deliveryFailed, avoidConsumer: o.undeliverableHere });
    case 'rejected': return c.reject(tag);
    default: return DONE;
  }
}
