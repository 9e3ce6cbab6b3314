/**
 * Stanzas of one connection, processed in order. A handler may return a promise (an async step
 * such as SASL or a roster write); later stanzas wait here, and past `pauseAt` of them reading
 * pauses (resumed at half), so a client cannot make the server buffer without bound.
 */
import type { XElement } from './xml.js';

export interface StanzaQueueHost {
  /** The connection is finished: nothing more runs. */
  readonly closed: boolean;
  process(el: XElement): void | Promise<void>;
  fail(e: unknown): void;
  pauseReading(): void;
  resumeReading(): void;
  /** The queue ran empty (input that ended may now be settled). */
  idle(): void;
}

export class StanzaQueue {
  private readonly queue: XElement[] = [];
  private busy = false;
  private drainScheduled = false;

  constructor(private readonly host: StanzaQueueHost, private readonly pauseAt: number) {}

  /** Nothing queued or running. */
  get empty(): boolean {
    return !this.busy && this.queue.length === 0;
  }

  /** Runs `el` now or queues it; `halting` ones (the parser stops after them) always wait a turn. */
  push(el: XElement, halting: boolean): void {
    if (halting || !this.empty) {
      this.queue.push(el);
      if (this.queue.length > this.pauseAt) this.host.pauseReading();
      if (!this.busy) this.scheduleDrain();
      return;
    }
    this.run(el);
  }

  private scheduleDrain(): void {
    if (this.drainScheduled) return;
    this.drainScheduled = true;
    queueMicrotask(() => {
      this.drainScheduled = false;
      this.drain();
    });
  }

  private drain(): void {
    while (!this.busy && this.queue.length > 0 && !this.host.closed) this.run(this.queue.shift()!);
    if (this.queue.length <= this.pauseAt / 2) this.host.resumeReading();
    this.host.idle();
  }

  private run(el: XElement): void {
    let r: void | Promise<void>;
    try {
      r = this.host.process(el);
    } catch (e) {
      this.host.fail(e);
      return;
    }
    if (r) {
      this.busy = true;
      r.catch((e) => this.host.fail(e)).finally(() => {
        this.busy = false;
        this.drain();
      });
    }
  }
}
