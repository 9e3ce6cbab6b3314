/** BEGIN / COMMIT / ABORT: one core transaction per name, covering SENDs, ACKs and NACKs. */
import type { StompFrame } from '../frame.js';
import type { StompContext } from '../context.js';
import { StompError } from '../errors.js';
import { required } from './common.js';

export function begin(conn: StompContext, frame: StompFrame): void {
  const name = required(frame, 'transaction');
  if (conn.transactions.has(name)) throw new StompError(`transaction "${name.slice(0, 128)}" is already open`);
  if (conn.transactions.size >= conn.settings.maxTransactions) throw new StompError(`more than ${conn.settings.maxTransactions} open transactions`);
  conn.transactions.set(name, { tx: conn.broker.beginTransaction(), local: [] });
  conn.receipt(frame);
}

function take(conn: StompContext, frame: StompFrame) {
  const name = required(frame, 'transaction');
  const t = conn.transactions.get(name);
  if (!t) throw new StompError(`unknown transaction "${name.slice(0, 128)}"`);
  conn.transactions.delete(name);
  return t;
}

/** Applies the staged operations; the RECEIPT follows once they are stored. */
export async function commit(conn: StompContext, frame: StompFrame): Promise<void> {
  const t = take(conn, frame);
  await t.tx.commit();
  for (const f of t.local) f();
  conn.receipt(frame);
}

/** Discards the staged operations: acknowledged messages stay unacknowledged. */
export function abort(conn: StompContext, frame: StompFrame): void {
  take(conn, frame).tx.rollback();
  conn.receipt(frame);
}
