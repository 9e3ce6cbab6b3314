/**
 * Transactions from rhea as a client. rhea has no transaction support, so this adds the pieces:
 * a coordinator target, declare/discharge messages, a transactional-state on transfers (by a
 * unique delivery tag) and quiet handling of declared / transactional-state outcomes.
 */
import { createRequire } from 'node:module';
import rhea from 'rhea';
import { AmqpDescribed } from '../../adapters/amqp/amqp-codec.js';
import { Encoder } from '../../adapters/amqp/amqp-encoder.js';
import { openSender } from './helpers.js';

const require = createRequire(import.meta.url);
type Typed = { descriptor?: { value?: unknown }; value: unknown };
const frames = require('rhea/lib/frames.js') as { transfer(fields: Record<string, unknown>): { value: unknown[] } };
const terminus = require('rhea/lib/terminus.js') as { unwrap(f: unknown): unknown };
const messageModule = require('rhea/lib/message.js') as { unwrap_outcome(o: unknown): unknown };
const types = rhea.types as unknown as {
  described(d: unknown, v: unknown): Typed;
  wrap_ulong(v: number): unknown;
  wrap_list(v: unknown[]): unknown;
  wrap_binary(v: Buffer): unknown;
  wrap_array(v: unknown[], code: number): unknown;
  wrap_symbol(s: string): unknown;
};

const transferStates = new Map<string, Typed>();
let patched = false;

function code(t: unknown): unknown {
  return (t as Typed | null)?.descriptor?.value;
}

function patch(): void {
  if (patched) return;
  patched = true;
  const origTransfer = frames.transfer;
  frames.transfer = (fields) => {
    const f = origTransfer(fields);
    const tag = fields.delivery_tag as Buffer | undefined;
    const st = tag ? transferStates.get(tag.toString('latin1')) : undefined;
    if (st) f.value[7] = st;
    return f;
  };
  const origUnwrap = terminus.unwrap;
  terminus.unwrap = (f) => (code(f) === 0x30 || code(f) === 'amqp:coordinator:list' ? f : origUnwrap(f));
  const origOutcome = messageModule.unwrap_outcome;
  messageModule.unwrap_outcome = (o) => (code(o) === 0x33 || code(o) === 0x34 ? o : origOutcome(o));
}

export function txnState(id: Buffer, outcome?: unknown): Typed {
  return types.described(types.wrap_ulong(0x34), types.wrap_list(outcome ? [types.wrap_binary(id), outcome] : [types.wrap_binary(id)]));
}

export const acceptedState = (): unknown => (rhea.message as unknown as { accepted(): { described(): unknown } }).accepted().described();

let tagCounter = 0;
function uniqueTag(): Buffer {
  return Buffer.from(`txn-${process.pid}-${++tagCounter}`, 'latin1');
}

/** Sends raw bytes and resolves with the delivery once the broker settles it. */
function sendRaw(s: rhea.Sender, bytes: Buffer, tag = uniqueTag()): Promise<rhea.Delivery & { remote_state?: unknown }> {
  return new Promise((resolve) => {
    const d = (s as unknown as { send(b: Buffer, t: Buffer, f: number): rhea.Delivery }).send(bytes, tag, 0);
    const onSettled = (ctx: rhea.EventContext) => {
      if (ctx.delivery !== d) return;
      s.off('settled', onSettled);
      resolve(d as rhea.Delivery & { remote_state?: unknown });
    };
    s.on('settled', onSettled);
  });
}

/** Attaches a coordinator link. */
export async function coordinator(c: rhea.Connection): Promise<rhea.Sender> {
  patch();
  const caps = types.wrap_array(['amqp:local-transactions'], 0xa3);
  const pending = openSender(c, { target: {} });
  // rhea only writes the attach on the next tick: swap in a coordinator target before it does.
  const s = (c as unknown as { session_policy: { get_session(): { links: Record<string, rhea.Sender> } } }).session_policy.get_session();
  const link = Object.values(s.links).at(-1)!;
  (link as unknown as { local: { attach: { target: unknown } } }).local.attach.target = types.described(types.wrap_ulong(0x30), types.wrap_list([caps]));
  return pending;
}

function body(value: AmqpDescribed): Buffer {
  const e = new Encoder();
  e.descriptor(0x77);
  e.value(value);
  return Buffer.from(e.finish());
}

/** Declares a transaction; resolves with its id. */
export async function declare(coord: rhea.Sender): Promise<Buffer> {
  const d = await sendRaw(coord, body(new AmqpDescribed(0x31, [])));
  const st = d.remote_state as Typed;
  if (code(st) !== 0x33) throw new Error(`declare answered with ${JSON.stringify(st)}`);
  const fields = st.value as Typed[];
  return fields[0].value as Buffer;
}

/** Discharges (commit, or roll back with fail=true): 'accepted' or 'rejected:<condition>'. */
export async function discharge(coord: rhea.Sender, id: Buffer, fail: boolean): Promise<string> {
  const d = await sendRaw(coord, body(new AmqpDescribed(0x32, [id, fail])));
  const st = d.remote_state as { error?: { condition?: string } } & Typed;
  if (code(st) === 0x24 || (st as { constructor: { composite_type?: string } }).constructor.composite_type === 'accepted') return 'accepted';
  return `rejected:${st.error?.condition ?? ''}`;
}

/** Sends a message as part of a transaction; resolves with the outcome descriptor (0x34 expected) and inner outcome. */
export async function sendInTxn(s: rhea.Sender, msg: rhea.Message, id: Buffer): Promise<{ state: unknown; inner: unknown }> {
  const tag = uniqueTag();
  transferStates.set(tag.toString('latin1'), txnState(id));
  try {
    const d = await sendRaw(s, rhea.message.encode(msg), tag);
    const st = d.remote_state as Typed;
    const inner = Array.isArray(st?.value) ? code((st.value as Typed[])[1]) : undefined;
    return { state: code(st) ?? (st as { error?: { condition?: string } })?.error?.condition, inner };
  } finally {
    transferStates.delete(tag.toString('latin1'));
  }
}
