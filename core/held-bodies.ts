/**
 * Copies of the payloads that queue entries hold while they wait (core/queue-memory.ts), packed in
 * slabs only such bodies use. An adapter hands a payload over as a slice of a larger buffer: Node's
 * 8 KiB pool, shared with short-lived allocations (parsers, encoded journal records), or a socket
 * read. A held slice keeps all of that buffer alive: measured in process, about 540 bytes of
 * buffers per held 100-byte message instead of about 100. Held bodies leave in about the order
 * they came (consumption and paging are FIFO), so their slabs free up whole.
 */

/** As Node's own pool: a body that stays keeps at most this much alive besides itself. */
const SLAB_BYTES = 8 * 1024;
/** Bodies from this size on get a buffer of their own. */
const OWN_BUFFER_FROM = SLAB_BYTES / 2;

const slabs = new WeakSet<ArrayBufferLike>();
let slab: Buffer | null = null;
let used = 0;

/** `payload`, or a copy of it that keeps nothing else alive (in a slab of held bodies, or on its own). */
export function holdCopy(payload: Buffer): Buffer {
  const n = payload.length;
  if (n === 0 || slabs.has(payload.buffer) || (payload.byteOffset === 0 && payload.buffer.byteLength === n)) return payload;
  if (n >= OWN_BUFFER_FROM) {
    const own = Buffer.allocUnsafeSlow(n);
    payload.copy(own);
    return own;
  }
  if (slab === null || used + n > SLAB_BYTES) {
    slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
    slabs.add(slab.buffer);
    used = 0;
  }
  payload.copy(slab, used);
  const out = slab.subarray(used, used + n);
  used += (n + 7) & ~7;
  return out;
}
