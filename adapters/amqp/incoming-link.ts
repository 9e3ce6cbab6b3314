/**
 * A producer link (the peer sends; our rhea Receiver). Transfers become core publishes:
 *
 *  - target /topic/x -> broker.publish; /queue/x (and the other queue forms) -> broker.sendToQueue;
 *    null address (anonymous relay) -> per message by properties.to; dynamic target -> a temporary
 *    queue owned by the connection, deleted with the link.
 *  - Credit: at most `creditWindow` transfers are outstanding (credit given + publishes the core
 *    has not yet resolved), and at most `maxInflightPerConnection` across the connection's links. Credit is replenished as broker promises resolve, so a blocked queue or
 *    a slow disk withholds credit from the producer: end-to-end flow control.
 *  - Settlement: pre-settled transfers are published and forgotten; unsettled ones are settled with
 *    `accepted` once the core has stored them as their durability asks, or `rejected` with a
 *    condition (queue full, not found, decode error...).
 *  - Transactional transfers (transactional-state with a declared txn-id) are staged in the
 *    transaction and answered with transactional-state(accepted).
 */
import { checkTopicName } from '../../core/names.js';
import { parseAddress, type AmqpNode } from './address.js';
import { decodeAmqpMessage } from './amqp-message.js';
import type { LinkContext } from './link-context.js';
import { capabilitiesOf, terminusOf, type IncomingHandler } from './link-handler.js';
import type { Message } from '../../core/message.js';
import { ownerOf } from '../../core/queue-types.js';
import type { RDelivery, RLink, RTyped } from './rhea-internals.js';
import {
  ACCEPTED, AmqpConditionError, COND, conditionOf, parseOutcome, rejected, transactionalState,
} from './states.js';

type Dest = { kind: 'queue' | 'topic'; name: string };

const RELAY_CACHE = 256;

export class IncomingLink implements IncomingHandler {
  private inflight = 0;
  /** Null for the anonymous relay. */
  private dest: Dest | null = null;
  private ready = false;
  private closed = false;
  /** Transfers wait behind this while a queue they need is being created (keeps their order). */
  private blocker: Promise<void> | null = null;
  private readonly relayCache = new Map<string, Dest>();
  private readonly window: number;
  private readonly threshold: number;
  private tempQueue: string | null = null;

  constructor(readonly conn: LinkContext, readonly link: RLink) {
    const s = conn.rt.settings;
    this.window = s.creditWindow;
    this.threshold = Math.max(1, Math.floor(this.window / 4));
    const a = link.remote.attach!;
    link.local.attach.snd_settle_mode = typeof a.snd_settle_mode === 'number' && a.snd_settle_mode <= 2 ? a.snd_settle_mode : 2;
    link.local.attach.rcv_settle_mode = 0;
    link.local.attach.max_message_size = s.maxMessageSize;
    // Our flows count deliveries from the sender's initial delivery-count (rhea starts at 0).
    if (typeof a.initial_delivery_count === 'number') link.delivery_count = a.initial_delivery_count;
    const remoteSource = terminusOf(a.source);
    if (remoteSource) link.local.attach.source = remoteSource.described();
    const t = terminusOf(a.target);
    if (!t) {
      conn.links.refuse(link, COND.invalidField, 'a producer link needs a target');
      return;
    }
    if (t.dynamic) {
      const name = conn.newTempQueueName();
      this.tempQueue = name;
      t.address = `/queue/${name}`;
      link.local.attach.target = t.described();
      this.dest = { kind: 'queue', name };
      conn.tempQueues.add(name);
      conn.links.holdAttach(link);
      conn.track(conn.rt.broker.declareQueue(name, { autoDelete: false, exclusiveOwner: conn.id, labels: { protocol: 'amqp', kind: 'temporary' } })
        .then(() => {
          conn.links.releaseAttach(link);
          this.start();
        }, (err) => conn.links.closeLink(link, conditionOf(err))));
      return;
    }
    if (t.address === undefined || t.address === null) {
      link.local.attach.target = t.described();
      this.start();
      return;
    }
    const node = parseAddress(t.address, s.bareName, capabilitiesOf(t));
    if (!node) {
      conn.links.refuse(link, COND.notFound, `no node at address ${t.address}`);
      return;
    }
    let wait: Promise<void> | void;
    try {
      wait = this.check(node);
    } catch (err) {
      const c = conditionOf(err);
      conn.links.refuse(link, c.condition, c.description ?? '');
      return;
    }
    this.dest = { kind: node.kind, name: node.name };
    link.local.attach.target = t.described();
    if (wait) {
      conn.links.holdAttach(link);
      conn.track(wait.then(() => {
        conn.links.releaseAttach(link);
        this.start();
      }, (err) => conn.links.closeLink(link, conditionOf(err))));
    } else {
      this.start();
    }
  }

  /** Checks a destination (authorisation, existence); returns a promise when the queue is being created. */
  private check(node: AmqpNode): Promise<void> | void {
    const { broker, settings } = this.conn.rt;
    if (node.kind === 'topic') checkTopicName(node.name);
    if (!this.conn.authorise('publish', node.name)) {
      throw new AmqpConditionError(COND.unauthorized, `not allowed to publish to ${node.name}`);
    }
    if (node.kind === 'queue' && !broker.getQueue(node.name)) {
      // tmp.* queues belong to a connection: a reply to one that is gone must not create an orphan.
      // In a cluster the connection may be on another node, which takes the message (or not).
      if (node.name.startsWith('tmp.') && broker.cluster.clustered) return undefined;
      if (node.mustExist || !settings.autoCreateQueues || node.name.startsWith('tmp.')) {
        throw new AmqpConditionError(COND.notFound, `queue ${node.name} does not exist`);
      }
      return broker.declareQueue(node.name, { durable: true, labels: { protocol: 'amqp', owner: ownerOf(this.conn.principal) } }).then(() => undefined);
    }
    return undefined;
  }

  private start(): void {
    if (this.closed) return;
    this.ready = true;
    this.topUp();
  }

  /** Gives credit back up to the window (batched: a flow per quarter window, or when credit ran out). */
  topUp(): void {
    if (!this.ready || this.closed || this.link.is_itself_closed()) return;
    const credit = this.link.credit;
    let delta = this.window - this.inflight - credit;
    const room = this.conn.rt.settings.maxInflightPerConnection - this.conn.publishCommitted;
    if (delta > room) {
      delta = room;
      this.conn.starved.add(this);
    }
    if (delta > 0 && (delta >= this.threshold || credit === 0)) {
      this.link.flow(delta);
      this.conn.publishCommitted += delta;
    }
  }

  transfer(delivery: RDelivery, bytes: Buffer, state: unknown): void {
    if (this.closed) {
      delivery.settled = true;
      this.conn.incomingSettled();
      return;
    }
    if (this.blocker) {
      this.wait(this.blocker.then(() => this.process(delivery, bytes, state) ?? undefined));
      return;
    }
    const w = this.process(delivery, bytes, state);
    if (w) this.wait(w);
  }

  /** Later transfers wait behind `p` (a failure there is a bug: the connection closes). */
  private wait(p: Promise<void>): void {
    const b = p.catch((err) => this.conn.track(Promise.reject(err)));
    this.blocker = b;
    void b.then(() => {
      if (this.blocker === b) this.blocker = null;
    });
  }

  /** Settles an incoming delivery (pre-settled ones are only marked done). */
  private settle(delivery: RDelivery, state: RTyped, counted: boolean): void {
    if (counted) this.inflight--;
    this.conn.creditReturned(1);
    if (delivery.remote_settled || !this.link.session.is_open() || this.conn.closed) {
      delivery.settled = true;
      this.conn.engine.schedule();
    } else {
      delivery.update(true, state);
    }
    this.topUp();
    this.conn.incomingSettled();
  }

  private reject(delivery: RDelivery, err: unknown, counted = false): void {
    this.settle(delivery, rejected(conditionOf(err)), counted);
  }

  /** Handles one transfer; returns a promise when it has to wait (queue creation) before publishing. */
  private process(delivery: RDelivery, bytes: Buffer, state: unknown): Promise<void> | void {
    const { settings } = this.conn.rt;
    if (delivery.format !== 0) {
      this.reject(delivery, new AmqpConditionError(COND.notImplemented, `message format ${delivery.format} is not supported`));
      return;
    }
    let decoded;
    try {
      decoded = decodeAmqpMessage(bytes, { bareName: settings.bareName });
    } catch (err) {
      this.reject(delivery, err);
      return;
    }
    const m = decoded.message;
    m.origin = this.conn.id;
    const p = this.conn.principal;
    if (settings.validateUserId && decoded.userId && p && !p.anonymous && decoded.userId.toString('utf8') !== p.user) {
      this.reject(delivery, new AmqpConditionError(COND.unauthorized, 'user-id does not match the authenticated user'));
      return;
    }
    let dest = this.dest;
    let wait: Promise<void> | void = undefined;
    if (!dest) {
      if (decoded.to === undefined) {
        this.reject(delivery, new AmqpConditionError(COND.notFound, 'anonymous relay message without a to address'));
        return;
      }
      try {
        [dest, wait] = this.resolveRelay(decoded.to);
      } catch (err) {
        this.reject(delivery, err);
        return;
      }
    }
    m.topic = dest.name;
    this.conn.client.messagesIn++;
    const outcome = parseOutcome(state);
    const d = dest;
    const go = (): void => {
      if (outcome?.kind === 'transactional') this.stage(delivery, d, outcome.txnId, m);
      else this.publish(delivery, d, m);
    };
    if (wait) return wait.then(go, (err) => this.reject(delivery, err));
    go();
    return undefined;
  }

  private resolveRelay(to: string): [Dest, Promise<void> | void] {
    const cached = this.relayCache.get(to);
    if (cached && (cached.kind === 'topic' || this.conn.rt.broker.getQueue(cached.name))) return [cached, undefined];
    const node = parseAddress(to, this.conn.rt.settings.bareName);
    if (!node) throw new AmqpConditionError(COND.notFound, `no node at address ${to}`);
    const wait = this.check(node);
    const dest: Dest = { kind: node.kind, name: node.name };
    if (this.relayCache.size >= RELAY_CACHE) this.relayCache.clear();
    this.relayCache.set(to, dest);
    return [dest, wait];
  }

  private publish(delivery: RDelivery, dest: Dest, m: Message): void {
    const broker = this.conn.rt.broker;
    this.inflight++;
    let done: Promise<void>;
    try {
      done = dest.kind === 'queue' ? broker.sendToQueue(dest.name, m) : broker.publish(m);
    } catch (err) {
      done = Promise.reject(err);
    }
    this.conn.track(done.then(
      () => this.settle(delivery, ACCEPTED, true),
      (err) => this.reject(delivery, err, true),
    ));
  }

  private stage(delivery: RDelivery, dest: Dest, txnId: Buffer, m: Message): void {
    const t = this.conn.txns.get(txnId.toString('hex'));
    if (!t) {
      this.reject(delivery, new AmqpConditionError(COND.txnUnknown, 'unknown transaction'));
      return;
    }
    try {
      if (dest.kind === 'queue') t.txn.send(dest.name, m);
      else t.txn.publish(m);
    } catch (err) {
      this.reject(delivery, err);
      return;
    }
    this.settle(delivery, transactionalState(txnId, ACCEPTED), false);
  }

  detached(closed: boolean): void {
    this.finish();
    if (closed) this.link.close();
    else this.link.detach();
  }

  dispose(): void {
    this.finish();
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    this.conn.starved.delete(this);
    this.conn.creditReturned(Math.max(0, this.link.credit));
    this.conn.links.linkGone(this);
    if (this.tempQueue) {
      this.conn.tempQueues.delete(this.tempQueue);
      this.conn.quiet(this.conn.rt.broker.deleteQueue(this.tempQueue));
    }
  }
}
