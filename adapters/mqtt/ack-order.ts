/**
 * Acknowledgements in the order the PUBLISHes arrived (MQTT 4.6): each PUBLISH reserves a slot
 * when read; slots are written as soon as every earlier one is filled, whatever order storage
 * finishes in.
 */
export interface AckSlot {
  buf: Buffer | null;
}

/** A filled slot with nothing to send. */
const SKIP = Buffer.alloc(0);

export class AckOrder {
  private acks: AckSlot[] = [];
  private head = 0;

  constructor(private readonly write: (buf: Buffer) => void) {}

  /** Slots reserved and not yet written. */
  get pending(): boolean {
    return this.head < this.acks.length;
  }

  /** Reserves the next place in the acknowledgement order. */
  slot(): AckSlot {
    const slot: AckSlot = { buf: null };
    this.acks.push(slot);
    return slot;
  }

  /** Fills a slot (null = nothing to send) and writes every acknowledgement now due. */
  fill(slot: AckSlot, buf: Buffer | null): void {
    slot.buf = buf ?? SKIP;
    const acks = this.acks;
    while (this.head < acks.length && acks[this.head].buf !== null) {
      const b = acks[this.head++].buf!;
      if (b !== SKIP) this.write(b);
    }
    if (this.head === acks.length) {
      this.acks = [];
      this.head = 0;
    } else if (this.head > 1024) {
      this.acks = acks.slice(this.head);
      this.head = 0;
    }
  }
}
