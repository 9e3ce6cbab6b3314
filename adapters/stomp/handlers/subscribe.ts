/**
 * SUBSCRIBE: queues (consume), topics (a transient exclusive auto-delete queue bound to the
 * pattern, or a named durable queue for durable subscriptions in RabbitMQ's or ActiveMQ's style),
 * temp queues, streams read from an `x-stream-offset` position, and queue browsers (`browser:true`).
 */
import type { Message } from '../../../core/message.js';
import { checkTopicPattern } from '../../../core/names.js';
import type { Queue } from '../../../core/queue.js';
import { ownerOf } from '../../../core/queue-types.js';
import { compileSelector, SelectorError } from '../../../core/selector.js';
import { StreamCursor, type StreamStart } from '../../../core/stream/stream-cursor.js';
import type { StompFrame } from '../frame.js';
import type { StompContext } from '../context.js';
import { StompError } from '../errors.js';
import { BrowseSubscription } from '../browse-subscription.js';
import { parseDestination, type Destination } from '../destinations.js';
import { QueueSubscription, StreamSubscription, type AckMode, type SubscriptionInit } from '../subscription.js';
import { required, tempQueue } from './common.js';

function ackMode(value: string | undefined): AckMode {
  if (value === undefined || value === 'auto') return 'auto';
  if (value === 'client' || value === 'client-individual') return value;
  throw new StompError(`invalid ack header "${value.slice(0, 64)}": use auto, client or client-individual`);
}

function prefetchOf(conn: StompContext, frame: StompFrame, ack: AckMode): number {
  const raw = frame.headers['prefetch-count'] ?? frame.headers['activemq.prefetchSize'];
  if (raw === undefined) return ack === 'auto' ? 0 : conn.settings.defaultPrefetch;
  const n = Number(raw.trim());
  if (raw.trim() === '' || !Number.isSafeInteger(n) || n < 0) throw new StompError(`invalid prefetch "${raw.slice(0, 64)}"`);
  return n;
}

/** x-stream-offset: first | last | next | offset=N | N | timestamp=T (seconds as RabbitMQ, or ms when >= 1e11). */
export function parseStreamOffset(value: string): StreamStart {
  const v = value.trim();
  if (v === 'first' || v === 'last' || v === 'next') return v;
  const num = (s: string) => {
    const n = Number(s);
    if (s === '' || !Number.isSafeInteger(n) || n < 0) throw new StompError(`invalid x-stream-offset "${value.slice(0, 64)}"`);
    return n;
  };
  if (v.startsWith('offset=')) return { offset: num(v.slice(7)) };
  if (v.startsWith('timestamp=')) {
    const t = num(v.slice(10));
    return { timestamp: t >= 1e11 ? t : t * 1000 };
  }
  return { offset: num(v) };
}

/** The `selector` header (JMS SQL-92, as ActiveMQ and Artemis): a predicate, or undefined when absent. */
function selectorOf(frame: StompFrame): ((m: Message) => boolean) | undefined {
  const source = frame.headers.selector;
  if (source === undefined) return undefined;
  try {
    return compileSelector(source);
  } catch (err) {
    if (err instanceof SelectorError) throw new StompError(`invalid selector: ${err.message}`, `selector "${source.slice(0, 256)}": ${err.message} (grammar: docs/queues.md#selectors)`);
    throw err;
  }
}

function isTrue(v: string | undefined): boolean {
  return v === 'true';
}

export async function subscribe(conn: StompContext, frame: StompFrame): Promise<void> {
  // Read before the client went away: nobody is left to deliver to.
  if (!conn.live) return;
  const h = frame.headers;
  const destination = required(frame, 'destination');
  let id = h.id;
  if (id === undefined) {
    if (conn.version !== '1.0') throw new StompError('SUBSCRIBE frame without an id header');
    id = destination;
  }
  const existing = conn.subscriptions.get(id);
  if (existing) throw new StompError(`subscription id "${id.slice(0, 128)}" is in use`);
  if (conn.subscriptions.size >= conn.settings.maxSubscriptions) throw new StompError(`more than ${conn.settings.maxSubscriptions} subscriptions`);
  const ack = ackMode(h.ack);
  const prefetch = prefetchOf(conn, frame, ack);
  const d = parseDestination(destination);
  const init: SubscriptionInit = { id, num: conn.nextSubscriptionNumber(), ack, prefetch, destination, topicStyle: false };
  const offset = h['x-stream-offset'];
  const selector = selectorOf(frame);
  if (isTrue(h.browser)) {
    init.ack = 'auto';
    const browser = await subscribeBrowser(conn, d, init, selector);
    conn.receipt(frame);
    browser?.start();
    return;
  }
  if (offset !== undefined && d.kind !== 'temp-queue') {
    if (selector) throw new StompError('selector is not supported with x-stream-offset', 'a stream subscription reads every record; filter on the client');
    await subscribeStream(conn, d.name, parseStreamOffset(offset), init);
  } else {
    await subscribeQueue(conn, frame, d, init, selector);
  }
  conn.receipt(frame);
}

async function subscribeStream(conn: StompContext, name: string, start: StreamStart, init: SubscriptionInit): Promise<void> {
  const stream = conn.broker.getStream(name);
  if (!stream) throw new StompError(`no stream "${name.slice(0, 256)}"`, 'x-stream-offset subscribes to a stream (a Kafka topic); none has this name');
  conn.authorise('subscribe', name);
  const cursor = await StreamCursor.open(stream, start);
  if (!conn.live) {
    cursor.close();
    return;
  }
  const sub = new StreamSubscription(init, cursor, conn, init.prefetch);
  conn.subscriptions.set(sub.id, sub);
  conn.subsByNum.set(sub.num, sub);
  sub.start();
}

/** `browser:true`: look at a queue's ready messages without taking them (ActiveMQ's queue browser). */
async function subscribeBrowser(
  conn: StompContext, d: Destination, init: SubscriptionInit, selector?: (m: Message) => boolean,
): Promise<BrowseSubscription | null> {
  if (d.kind !== 'queue' && d.kind !== 'amq-queue') {
    throw new StompError('browser:true needs a queue destination', 'browse /queue/NAME or /amq/queue/NAME; topics have nothing to browse');
  }
  conn.authorise('consume', d.name);
  let queue = conn.broker.getQueue(d.name);
  if (!queue) {
    if (d.kind === 'amq-queue') throw new StompError(`no queue "${d.name.slice(0, 256)}"`, `/amq/queue/ names an existing queue; ${d.name} does not exist`);
    queue = await conn.broker.declareQueue(d.name, { durable: true, labels: { owner: ownerOf(conn.principal) } });
  }
  if (!conn.live) return null;
  let sub: BrowseSubscription | undefined;
  const browser = queue.browse({ creditMode: false, owner: conn.id, selector }, (delivery) => conn.deliver(sub!, delivery.message, delivery.tag, delivery.redelivered));
  sub = new BrowseSubscription(init, browser);
  const s = sub;
  browser.onCancel = () => conn.subscriptionCancelled(s);
  browser.onEnd = () => conn.sendFrame('MESSAGE', { subscription: s.id, destination: s.destination, 'message-id': `${conn.id}-${s.num}-end`, browser: 'end' });
  if (conn.writePaused) browser.pause();
  conn.subscriptions.set(s.id, s);
  conn.subsByNum.set(s.num, s);
  return s;
}

/** Durable subscription queue name, or null for a transient subscription. */
function durableName(conn: StompContext, frame: StompFrame, id: string): { queue: string; replace: boolean } | null {
  const h = frame.headers;
  const amqName = h['activemq.subscriptionName'] ?? h['durable-subscription-name'];
  if (amqName !== undefined) {
    if (conn.clientId === undefined) throw new StompError('durable subscription without client-id', 'send client-id on CONNECT to use activemq.subscriptionName / durable-subscription-name');
    return { queue: `stomp.sub.${conn.clientId}.${amqName}`, replace: true };
  }
  if ((isTrue(h.durable) || isTrue(h.persistent)) && !isTrue(h['auto-delete'])) {
    return { queue: h['x-queue-name'] ?? `stomp.sub.${id}`, replace: false };
  }
  return null;
}

async function subscribeQueue(
  conn: StompContext, frame: StompFrame, d: Destination, init: SubscriptionInit, selector?: (m: Message) => boolean,
): Promise<void> {
  const broker = conn.broker;
  let queue: Queue | undefined;
  let durableQueue: string | undefined;
  switch (d.kind) {
    case 'queue':
      conn.authorise('consume', d.name);
      queue = broker.getQueue(d.name) ?? await broker.declareQueue(d.name, { durable: true, labels: { owner: ownerOf(conn.principal) } });
      break;
    case 'amq-queue':
      conn.authorise('consume', d.name);
      queue = broker.getQueue(d.name);
      if (!queue) throw new StompError(`no queue "${d.name.slice(0, 256)}"`, `/amq/queue/ names an existing queue; ${d.name} does not exist`);
      break;
    case 'temp-queue': {
      const real = await tempQueue(conn, d.name);
      // An explicit subscription replaces the automatic one made for a reply-to.
      const auto = conn.subscriptions.get('/temp-queue/' + d.name);
      if (auto && auto.id !== init.id && auto instanceof QueueSubscription && auto.queueName === real) conn.removeSubscription(auto);
      queue = broker.getQueue(real)!;
      break;
    }
    case 'topic': {
      checkTopicPattern(d.name);
      conn.authorise('subscribe', d.name);
      init.topicStyle = true;
      const durable = durableName(conn, frame, init.id);
      if (durable) {
        queue = broker.getQueue(durable.queue) ?? await broker.declareQueue(durable.queue, {
          durable: true, labels: { protocol: 'stomp', kind: 'durable-subscription' },
        });
        const bound = broker.bindingsOf(durable.queue);
        if (!bound.some((b) => b.pattern === d.name)) {
          if (durable.replace) for (const b of bound) await broker.unbindQueue(durable.queue, b.pattern);
          await broker.bindQueue(durable.queue, d.name);
        }
        durableQueue = durable.queue;
      } else {
        const name = conn.newQueueName();
        queue = await broker.declareQueue(name, {
          durable: false, autoDelete: true, exclusiveOwner: conn.id, labels: { protocol: 'stomp', kind: 'subscription' },
        });
        await broker.bindQueue(name, d.name);
        // The connection ended while we waited: auto-delete only follows a consumer, so delete it here.
        if (!conn.live) await broker.deleteQueue(name);
      }
      break;
    }
  }
  if (!conn.live) return;
  // A topic subscription's queue is read by this subscriber only: what it does not select is dropped.
  consume(conn, queue!, init, durableQueue, selector, init.topicStyle);
}

function consume(
  conn: StompContext, queue: Queue, init: SubscriptionInit, durableQueue?: string,
  selector?: (m: Message) => boolean, dropUnselected = false,
): QueueSubscription {
  const sub = new QueueSubscription(init, queue.name);
  sub.durableQueue = durableQueue;
  conn.subscriptions.set(sub.id, sub);
  conn.subsByNum.set(sub.num, sub);
  try {
    const consumer = queue.consume(
      {
        prefetch: init.ack === 'auto' ? 0 : init.prefetch, autoAck: init.ack === 'auto', creditMode: false, owner: conn.id,
        ...(selector ? { selector, dropUnselected } : {}),
      },
      (delivery, c) => {
        if (!sub.consumer) sub.attach(c, conn);
        conn.deliver(sub, delivery.message, delivery.tag, delivery.redelivered);
      },
    );
    if (!sub.consumer) sub.attach(consumer, conn);
    if (conn.writePaused) consumer.pause();
  } catch (err) {
    conn.subscriptions.delete(sub.id);
    conn.subsByNum.delete(sub.num);
    throw err;
  }
  return sub;
}

/** RabbitMQ's reply-to behaviour: a temp queue named in reply-to is consumed as subscription `/temp-queue/NAME`. */
export function autoSubscribeTempQueue(conn: StompContext, name: string, real: string): void {
  if (!conn.live) return;
  for (const s of conn.subscriptions.values()) if (s instanceof QueueSubscription && s.queueName === real) return;
  const id = '/temp-queue/' + name;
  if (conn.subscriptions.has(id)) return;
  const queue = conn.broker.getQueue(real);
  if (!queue) return;
  consume(conn, queue, { id, num: conn.nextSubscriptionNumber(), ack: 'auto', prefetch: 0, destination: id, topicStyle: false });
}
