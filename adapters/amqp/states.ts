/**
 * Error conditions and delivery states (spec parts 2.8.15, 3.4, 4.5): building them for rhea's
 * writer and reading the ones peers send (kept raw by the adapter, since rhea does not know the
 * transactional ones).
 */
import rhea from 'rhea';
import { InvalidNameError } from '../../core/names.js';
import { ExclusiveQueueError, QueueFullError, QueueNotFoundError } from '../../core/queue-types.js';
import { TransactionStateError } from '../../core/transaction.js';
import { AmqpDecodeError } from './amqp-codec.js';
import type { RTyped } from './rhea-internals.js';

export const COND = {
  notFound: 'amqp:not-found',
  unauthorized: 'amqp:unauthorized-access',
  invalidField: 'amqp:invalid-field',
  decodeError: 'amqp:decode-error',
  internalError: 'amqp:internal-error',
  resourceLimit: 'amqp:resource-limit-exceeded',
  resourceLocked: 'amqp:resource-locked',
  illegalState: 'amqp:illegal-state',
  notImplemented: 'amqp:not-implemented',
  notAllowed: 'amqp:not-allowed',
  preconditionFailed: 'amqp:precondition-failed',
  framingError: 'amqp:connection:framing-error',
  forced: 'amqp:connection:forced',
  windowViolation: 'amqp:session:window-violation',
  handleInUse: 'amqp:session:handle-in-use',
  unattachedHandle: 'amqp:session:unattached-handle',
  detachForced: 'amqp:link:detach-forced',
  transferLimit: 'amqp:link:transfer-limit-exceeded',
  messageSize: 'amqp:link:message-size-exceeded',
  txnUnknown: 'amqp:transaction:unknown-id',
  txnRollback: 'amqp:transaction:rollback',
} as const;

export interface AmqpErrorFields {
  condition: string;
  description?: string;
}

/** An error that carries its AMQP condition. */
export class AmqpConditionError extends Error {
  override readonly name = 'AmqpConditionError';
  constructor(readonly condition: string, message: string) {
    super(message);
  }
}

/** The AMQP error for a failure from the core (or anywhere). */
export function conditionOf(err: unknown): AmqpErrorFields {
  const description = err instanceof Error ? err.message : String(err);
  if (err instanceof AmqpConditionError) return { condition: err.condition, description };
  if (err instanceof QueueNotFoundError) return { condition: COND.notFound, description };
  if (err instanceof QueueFullError) return { condition: COND.resourceLimit, description };
  if (err instanceof InvalidNameError) return { condition: COND.invalidField, description };
  if (err instanceof ExclusiveQueueError) return { condition: COND.resourceLocked, description };
  if (err instanceof AmqpDecodeError) return { condition: COND.decodeError, description };
  if (err instanceof TransactionStateError) return { condition: COND.illegalState, description };
  if (err instanceof RangeError) return { condition: COND.invalidField, description };
  return { condition: COND.internalError, description };
}

const types = rhea.types as unknown as {
  described(descriptor: unknown, value: unknown): RTyped;
  wrap_ulong(v: number): RTyped;
  wrap_list(v: unknown[]): RTyped;
  wrap_binary(v: Buffer): RTyped;
  wrap_boolean(v: boolean): RTyped;
  wrap_symbol(v: string): RTyped;
  wrap_array(v: unknown[], code: number): RTyped;
  unwrap(v: unknown, leaveDescribed?: boolean): unknown;
  Null(): RTyped;
};
const message = rhea.message as unknown as {
  accepted(): { described(): RTyped };
  released(): { described(): RTyped };
  rejected(f: { error: AmqpErrorFields }): { described(): RTyped };
};

export const enum Outcome {
  Received = 0x23, Accepted = 0x24, Rejected = 0x25, Released = 0x26, Modified = 0x27,
  Declared = 0x33, TransactionalState = 0x34, Coordinator = 0x30, Declare = 0x31, Discharge = 0x32,
}

const SYMBOLIC: Record<string, number> = {
  'amqp:received:list': Outcome.Received,
  'amqp:accepted:list': Outcome.Accepted,
  'amqp:rejected:list': Outcome.Rejected,
  'amqp:released:list': Outcome.Released,
  'amqp:modified:list': Outcome.Modified,
  'amqp:declared:list': Outcome.Declared,
  'amqp:transactional-state:list': Outcome.TransactionalState,
  'amqp:coordinator:list': Outcome.Coordinator,
};

export const ACCEPTED: RTyped = message.accepted().described();

export function rejected(error: AmqpErrorFields): RTyped {
  return message.rejected({ error }).described();
}

export function declared(txnId: Buffer): RTyped {
  return types.described(types.wrap_ulong(Outcome.Declared), types.wrap_list([types.wrap_binary(txnId)]));
}

export function transactionalState(txnId: Buffer, outcome: RTyped): RTyped {
  return types.described(types.wrap_ulong(Outcome.TransactionalState), types.wrap_list([types.wrap_binary(txnId), outcome]));
}

/** The coordinator target we answer with (capabilities echoed). */
export function coordinatorTarget(capabilities: string[]): RTyped {
  const caps = capabilities.length > 0 ? types.wrap_array(capabilities, 0xa3) : types.Null();
  return types.described(types.wrap_ulong(Outcome.Coordinator), types.wrap_list([caps]));
}

/** Descriptor code of a raw rhea described value (numeric or symbolic), or -1. */
export function describedCode(t: unknown): number {
  const d = (t as RTyped | null | undefined)?.descriptor;
  if (!d) return -1;
  const v = d.value;
  if (typeof v === 'number') return v;
  if (typeof v === 'string') return SYMBOLIC[v] ?? -1;
  return -1;
}

/** Field `i` of a raw rhea described list, unwrapped to a JS value. */
export function describedField(t: unknown, i: number): unknown {
  const list = (t as RTyped | null | undefined)?.value;
  if (!Array.isArray(list) || i >= list.length) return undefined;
  const f = list[i] as RTyped | undefined;
  if (f && f.descriptor) return f; // nested described value stays raw
  return types.unwrap(f, true);
}

export type ParsedOutcome =
  | { kind: 'accepted' }
  | { kind: 'released' }
  | { kind: 'rejected' }
  | { kind: 'modified'; deliveryFailed: boolean; undeliverableHere: boolean }
  | { kind: 'received' }
  | { kind: 'transactional'; txnId: Buffer; outcome: ParsedOutcome | null };

/** Reads a delivery state sent by a peer; null when absent or unknown. */
export function parseOutcome(t: unknown): ParsedOutcome | null {
  switch (describedCode(t)) {
    case Outcome.Accepted: return { kind: 'accepted' };
    case Outcome.Released: return { kind: 'released' };
    case Outcome.Rejected: return { kind: 'rejected' };
    case Outcome.Received: return { kind: 'received' };
    case Outcome.Modified:
      return { kind: 'modified', deliveryFailed: describedField(t, 0) === true, undeliverableHere: describedField(t, 1) === true };
    case Outcome.TransactionalState: {
      const id = describedField(t, 0);
      if (!Buffer.isBuffer(id)) return null;
      const inner = describedField(t, 1);
      return { kind: 'transactional', txnId: id, outcome: inner ? parseOutcome(inner) : null };
    }
    default: return null;
  }
}
