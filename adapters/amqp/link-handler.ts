/** What the connection needs from each kind of link it attaches (producer, consumer, coordinator). */
import type { RDelivery, RLink, RTerminus } from './rhea-internals.js';

export interface LinkHandler {
  readonly link: RLink;
  /** The peer detached the link (`closed`: the terminus is to be destroyed). */
  detached(closed: boolean): void;
  /** The session or connection went away: release core resources, keep durable state. */
  dispose(): void;
}

/** A link the peer sends on (our rhea Receiver): producers and the transaction coordinator. */
export interface IncomingHandler extends LinkHandler {
  /** One complete transfer (all frames joined); `state` is the raw transfer state, if any. */
  transfer(delivery: RDelivery, bytes: Buffer, state: unknown): void;
}

/** A terminus from a peer's attach, or null (rhea hands an absent one over as a Typed null). */
export function terminusOf(t: unknown): RTerminus | null {
  return t && typeof (t as RTerminus).described === 'function' ? (t as RTerminus) : null;
}

/** Capabilities of a terminus as strings (rhea gives a string for one symbol, an array for more). */
export function capabilitiesOf(t: RTerminus | null | undefined): string[] {
  const c = t?.capabilities;
  if (!c) return [];
  if (typeof c === 'string') return [c];
  return Array.isArray(c) ? c.filter((x): x is string => typeof x === 'string') : [];
}

/** A delivery tag for a core tag: 4 bytes big-endian (8 past 2^32). */
export function tagBuffer(tag: number): Buffer {
  if (tag <= 0xffffffff) {
    const b = Buffer.allocUnsafe(4);
    b.writeUInt32BE(tag, 0);
    return b;
  }
  const b = Buffer.allocUnsafe(8);
  b.writeBigUInt64BE(BigInt(tag), 0);
  return b;
}
