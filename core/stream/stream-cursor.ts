/**
 * Reads a stream as messages, for consumers that are not Kafka clients (STOMP x-stream-offset,
 * AMQP stream receivers, XMPP pubsub item retrieval): a position per partition, records decoded
 * from the stored batches, ordered per partition.
 */
import type { Message } from '../message.js';
import { readBatchHeader } from './batch-header.js';
import { decodeRecordsAsync, recordToMessage } from './record-codec.js';
import type { Stream } from './stream.js';

export type StreamStart = 'first' | 'last' | 'next' | { offset: number } | { timestamp: number };

export interface StreamMessage {
  partition: number;
  offset: number;
  message: Message;
}

const READ_BYTES = 1024 * 1024;

export class StreamCursor {
  private positions: number[] = [];
  private closed = false;

  private constructor(readonly stream: Stream) {}

  static async open(stream: Stream, start: StreamStart): Promise<StreamCursor> {
    const c = new StreamCursor(stream);
    for (const p of stream.partitions) {
      let pos: number;
      if (start === 'first') pos = p.logStartOffset;
      else if (start === 'next') pos = p.highWatermark;
      else if (start === 'last') pos = Math.max(p.logStartOffset, p.highWatermark - 1);
      else if ('offset' in start) pos = Math.min(Math.max(start.offset, p.logStartOffset), p.highWatermark);
      else pos = (await p.offsetForTimestamp(start.timestamp)) ?? p.highWatermark;
      c.positions.push(pos);
    }
    return c;
  }

  /** Next offset to read in each partition. */
  get offsets(): readonly number[] {
    return this.positions;
  }

  /**
   * Up to `max` messages across partitions; waits up to `waitMs` when none is available.
   * Returns [] at the end of the wait or once closed.
   */
  async poll(max: number, waitMs = 0): Promise<StreamMessage[]> {
    const out = await this.readAvailable(max);
    if (out.length > 0 || waitMs <= 0 || this.closed) return out;
    await Promise.race(this.stream.partitions.map((p, i) => p.waitForData(this.positions[i] ?? 0, waitMs)));
    return this.closed ? [] : this.readAvailable(max);
  }

  close(): void {
    this.closed = true;
  }

  private async readAvailable(max: number): Promise<StreamMessage[]> {
    const out: StreamMessage[] = [];
    for (let i = 0; i < this.stream.partitions.length && out.length < max; i++) {
      const p = this.stream.partitions[i];
      if (this.positions[i] === undefined) this.positions[i] = p.logStartOffset; // partition added later
      if (this.positions[i] < p.logStartOffset) this.positions[i] = p.logStartOffset;
      const batches = await p.read(this.positions[i], READ_BYTES);
      for (const batch of batches) {
        const header = readBatchHeader(batch);
        for (const rec of await decodeRecordsAsync(batch, header)) {
          if (rec.offset < this.positions[i] || out.length >= max) continue;
          out.push({ partition: i, offset: rec.offset, message: recordToMessage(rec, this.stream.name) });
        }
        const last = out.filter((m) => m.partition === i).at(-1);
        if (last) this.positions[i] = last.offset + 1;
        if (out.length >= max) break;
        if (!last) this.positions[i] = Math.max(this.positions[i], header.baseOffset + header.lastOffsetDelta + 1);
      }
    }
    return out;
  }
}
