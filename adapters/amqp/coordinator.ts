/**
 * The transaction coordinator (spec part 4): a link whose target is a coordinator. Messages on it
 * carry `declare` (answered with `declared` and a new txn-id) or `discharge` (commit, or roll back
 * with fail=true; answered with `accepted`, or `rejected` with transaction:unknown-id /
 * transaction:rollback). rhea has no coordinator, so this is the adapter's own.
 *
 * A transaction is a core Transaction (broker.beginTransaction()): transactional transfers stage
 * publishes/sends, transactional dispositions stage acks/nacks, and commit applies them as one
 * journal group. On rollback, deliveries whose transactional disposition the client settled go
 * back to their queue as failed deliveries (redelivered, as JMS expects after a rollback).
 * Transactions still open when their coordinator link or the connection goes are rolled back.
 */
import { AmqpDescribed, Decoder } from './amqp-codec.js';
import type { LinkContext, TxnState } from './link-context.js';
import { terminusOf, type IncomingHandler } from './link-handler.js';
import type { RDelivery, RLink } from './rhea-internals.js';
import { ACCEPTED, AmqpConditionError, COND, conditionOf, coordinatorTarget, declared, rejected } from './states.js';

const CREDIT = 100;
/** Open transactions per connection. */
export const MAX_TRANSACTIONS = 1000;

let nextTxn = 1;

type Command = { kind: 'declare'; globalId: unknown } | { kind: 'discharge'; txnId: Buffer; fail: boolean };

/** Reads the amqp-value body of a coordinator message. */
export function parseCommand(bytes: Buffer): Command {
  const d = new Decoder(bytes);
  let body: unknown;
  while (d.remaining > 0) {
    if (d.u8() !== 0x00) throw new AmqpConditionError(COND.decodeError, 'expected a described message section');
    const desc = d.readValue();
    const value = d.readValue();
    const code = typeof desc === 'bigint' ? Number(desc) : -1;
    if (code === 0x77 || (desc as { value?: string })?.value === 'amqp:amqp-value:*') body = value;
  }
  if (!(body instanceof AmqpDescribed) || !Array.isArray(body.value)) {
    throw new AmqpConditionError(COND.decodeError, 'coordinator messages carry a declare or discharge');
  }
  const fields = body.value as unknown[];
  if (body.is(0x31, 'amqp:declare:list')) return { kind: 'declare', globalId: fields[0] ?? null };
  if (body.is(0x32, 'amqp:discharge:list')) {
    const id = fields[0];
    if (!Buffer.isBuffer(id)) throw new AmqpConditionError(COND.decodeError, 'discharge without a txn-id');
    return { kind: 'discharge', txnId: id, fail: fields[1] === true };
  }
  throw new AmqpConditionError(COND.decodeError, 'coordinator messages carry a declare or discharge');
}

export class Coordinator implements IncomingHandler {
  private closed = false;
  private readonly mine = new Set<string>();

  constructor(readonly conn: LinkContext, readonly link: RLink, capabilities: string[]) {
    const a = link.remote.attach!;
    link.local.attach.snd_settle_mode = typeof a.snd_settle_mode === 'number' && a.snd_settle_mode <= 2 ? a.snd_settle_mode : 2;
    link.local.attach.rcv_settle_mode = 0;
    const remoteSource = terminusOf(a.source);
    if (remoteSource) link.local.attach.source = remoteSource.described();
    const caps = capabilities.filter((c) => c === 'amqp:local-transactions');
    link.local.attach.target = coordinatorTarget(caps.length > 0 ? caps : ['amqp:local-transactions']);
    link.flow(CREDIT);
  }

  private answer(delivery: RDelivery, state: Parameters<RDelivery['update']>[1]): void {
    if (delivery.remote_settled || !this.link.session.is_open() || this.conn.closed) delivery.settled = true;
    else delivery.update(true, state);
    if (!this.closed && !this.link.is_itself_closed() && this.link.credit < CREDIT / 2) this.link.flow(CREDIT - this.link.credit);
    this.conn.incomingSettled();
  }

  transfer(delivery: RDelivery, bytes: Buffer): void {
    let cmd: Command;
    try {
      cmd = parseCommand(bytes);
    } catch (err) {
      this.answer(delivery, rejected(conditionOf(err)));
      return;
    }
    if (cmd.kind === 'declare') {
      if (cmd.globalId !== null && cmd.globalId !== undefined) {
        this.answer(delivery, rejected({ condition: COND.notImplemented, description: 'distributed transactions are not supported' }));
        return;
      }
      if (this.conn.txns.size >= MAX_TRANSACTIONS) {
        this.answer(delivery, rejected({ condition: COND.resourceLimit, description: `more than ${MAX_TRANSACTIONS} open transactions` }));
        return;
      }
      const id = Buffer.allocUnsafe(4);
      id.writeUInt32BE(nextTxn++ >>> 0, 0);
      const key = id.toString('hex');
      const t: TxnState = { id, txn: this.conn.rt.broker.beginTransaction(), settledAcks: [] };
      this.conn.txns.set(key, t);
      this.mine.add(key);
      this.answer(delivery, declared(id));
      return;
    }
    const key = cmd.txnId.toString('hex');
    const t = this.conn.txns.get(key);
    if (!t) {
      this.answer(delivery, rejected({ condition: COND.txnUnknown, description: 'unknown transaction' }));
      return;
    }
    this.conn.txns.delete(key);
    this.mine.delete(key);
    if (cmd.fail) {
      rollback(t, this.conn);
      this.answer(delivery, ACCEPTED);
      return;
    }
    this.conn.track(t.txn.commit().then(
      () => this.answer(delivery, ACCEPTED),
      (err) => {
        this.conn.rt.log.warn({ err: (err as Error).message }, 'AMQP transaction commit failed');
        this.answer(delivery, rejected({ condition: COND.txnRollback, description: (err as Error).message }));
      },
    ));
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
    for (const key of this.mine) {
      const t = this.conn.txns.get(key);
      if (t) {
        this.conn.txns.delete(key);
        rollback(t, this.conn);
      }
    }
    this.mine.clear();
    this.conn.links.linkGone(this);
  }
}

/** Rolls a transaction back; settled transactional acks go back to their queues as failed deliveries. */
export function rollback(t: TxnState, conn: Pick<LinkContext, 'quiet'>): void {
  try {
    t.txn.rollback();
  } catch {
    // already finished
  }
  for (const { consumer, tag } of t.settledAcks) {
    if (!consumer.closed) conn.quiet(consumer.nack(tag, { requeue: true, failed: true }));
  }
  t.settledAcks = [];
}
