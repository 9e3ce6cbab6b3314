/** Mandatory performative fields rhea would otherwise trust, checked before rhea reads them. */
import type { RFrame } from './rhea-internals.js';
import { AmqpConditionError, COND } from './states.js';

function isNum(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0;
}

/** Throws amqp:decode-error naming the field; fills in a flow's defaulted credit fields. */
export function checkFields(name: string, frame: RFrame): void {
  const p = frame.performative;
  const bad = (field: string) => new AmqpConditionError(COND.decodeError, `${name}: missing or invalid ${field}`);
  switch (name) {
    case 'attach':
      if (typeof p.name !== 'string' || p.name.length === 0 || p.name.length > 4096) throw bad('name');
      if (!isNum(p.handle)) throw bad('handle');
      if (typeof p.role !== 'boolean') throw bad('role');
      break;
    case 'detach':
      if (!isNum(p.handle)) throw bad('handle');
      break;
    case 'transfer':
      if (!isNum(p.handle)) throw bad('handle');
      break;
    case 'flow':
      if (!isNum(p.next_outgoing_id) || !isNum(p.incoming_window) || !isNum(p.outgoing_window)) throw bad('window');
      if (p.handle !== undefined && p.handle !== null && !isNum(p.handle)) throw bad('handle');
      if (p.handle !== undefined && p.handle !== null) {
        if (!isNum(p.link_credit ?? 0) || !isNum(p.delivery_count ?? 0)) throw bad('link credit');
        // A receiver that has not seen our attach yet leaves delivery-count out: it is our initial one (0).
        if (p.delivery_count === undefined || p.delivery_count === null) p.delivery_count = 0;
        if (p.link_credit === undefined || p.link_credit === null) p.link_credit = 0;
      }
      break;
    case 'disposition':
      if (!isNum(p.first) || (p.last !== undefined && p.last !== null && !isNum(p.last)) || typeof p.role !== 'boolean') throw bad('range');
      break;
    case 'begin':
      if (!isNum(p.next_outgoing_id) || !isNum(p.incoming_window) || !isNum(p.outgoing_window)) throw bad('window');
      break;
    default:
      break;
  }
}
