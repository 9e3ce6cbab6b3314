/**
 * UNSUBSCRIBE: ends a subscription (unacknowledged messages go back to the queue). With
 * `durable:true` / `persistent:true` (RabbitMQ) or `activemq.subscriptionName` /
 * `durable-subscription-name` (ActiveMQ, Artemis) it also deletes the durable subscription's queue.
 */
import type { StompFrame } from '../frame.js';
import type { StompContext } from '../context.js';
import { StompError } from '../errors.js';

export async function unsubscribe(conn: StompContext, frame: StompFrame): Promise<void> {
  const h = frame.headers;
  const id = h.id ?? (conn.version === '1.0' ? h.destination : undefined);
  if (id === undefined) throw new StompError('UNSUBSCRIBE frame without an id header');
  const sub = conn.subscriptions.get(id);
  const amqName = h['activemq.subscriptionName'] ?? h['durable-subscription-name'];
  let drop: string | undefined;
  if (amqName !== undefined) {
    if (conn.clientId === undefined) throw new StompError('durable subscription without client-id');
    drop = `stomp.sub.${conn.clientId}.${amqName}`;
  } else if (sub?.durableQueue !== undefined && (h.durable === 'true' || h.persistent === 'true')) {
    drop = sub.durableQueue;
  }
  if (!sub && drop === undefined) throw new StompError(`no subscription "${id.slice(0, 128)}"`);
  if (sub) conn.removeSubscription(sub);
  if (drop !== undefined) {
    conn.authorise('consume', drop);
    await conn.broker.deleteQueue(drop);
  }
  conn.receipt(frame);
}
