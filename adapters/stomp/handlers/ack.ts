/**
 * ACK / NACK: 1.2 `id` (the MESSAGE's `ack` header), 1.1 `message-id` + `subscription`, 1.0
 * `message-id`. ack:client is cumulative, ack:client-individual settles one message. NACK puts the
 * message back as a failed delivery (redelivered, to another consumer when there is one; dead-
 * lettered after the queue's maxDeliveries). With `transaction` the settlement waits for COMMIT.
 */
import type { StompFrame } from '../frame.js';
import type { StompContext } from '../context.js';
import { StompError } from '../errors.js';
import { transactionOf } from './common.js';

function settle(conn: StompContext, frame: StompFrame, nack: boolean): void {
  const h = frame.headers;
  const id = conn.version === '1.2' ? h.id ?? h['message-id'] : h['message-id'] ?? h.id;
  if (id === undefined || id === '') throw new StompError(`${frame.command} frame without ${conn.version === '1.2' ? 'an id' : 'a message-id'} header`);
  const { num, tag } = conn.parseAckId(id);
  const t = transactionOf(conn, frame);
  const sub = conn.subsByNum.get(num);
  if (!sub || sub.ackMode === 'auto') {
    // The subscription ended (its messages went back to the queue) or needs no acks.
    conn.receipt(frame);
    return;
  }
  const cumulative = sub.ackMode === 'client';
  if (t) {
    if (nack) sub.stageNack(t, tag, cumulative);
    else sub.stageAck(t, tag, cumulative);
    conn.receipt(frame);
    return;
  }
  conn.track(nack ? sub.nack(tag, cumulative) : sub.ack(tag, cumulative), frame);
}

export function ack(conn: StompContext, frame: StompFrame): void {
  settle(conn, frame, false);
}

export function nack(conn: StompContext, frame: StompFrame): void {
  if (conn.version === '1.0') throw new StompError('NACK is not part of STOMP 1.0');
  settle(conn, frame, true);
}
