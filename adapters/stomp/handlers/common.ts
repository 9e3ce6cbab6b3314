/** Helpers shared by the frame handlers. */
import type { StompFrame } from '../frame.js';
import type { StompContext } from '../context.js';
import { StompError } from '../errors.js';
import type { StompTransaction } from '../subscription.js';

/** A header the frame must carry (non-empty). */
export function required(frame: StompFrame, name: string): string {
  const v = frame.headers[name];
  if (v === undefined || v === '') throw new StompError(`${frame.command} frame without a ${name} header`);
  return v;
}

/** The open transaction a frame names (`transaction` header), or undefined. */
export function transactionOf(conn: StompContext, frame: StompFrame): StompTransaction | undefined {
  const name = frame.headers.transaction;
  if (name === undefined) return undefined;
  const t = conn.transactions.get(name);
  if (!t) throw new StompError(`unknown transaction "${name.slice(0, 128)}"`);
  return t;
}

/**
 * The core queue behind the connection's `/temp-queue/NAME` (declared on first use; exclusive to
 * this connection, deleted with it). A string when it exists already.
 */
export function tempQueue(conn: StompContext, name: string): string | Promise<string> {
  const real = conn.tempQueues.get(name);
  if (real !== undefined && conn.broker.getQueue(real)) return real;
  // Its temp queues are deleted when a connection closes: none may appear after that.
  if (conn.state === 'closing' || conn.state === 'closed') throw new StompError('connection closing');
  if (conn.tempQueues.size >= conn.settings.maxSubscriptions) throw new StompError('too many temp queues');
  const q = conn.newQueueName();
  conn.tempQueues.set(name, q);
  return conn.broker.declareQueue(q, {
    durable: false, autoDelete: false, exclusiveOwner: conn.id, labels: { protocol: 'stomp', kind: 'temp-queue' },
  }).then(() => q);
}
