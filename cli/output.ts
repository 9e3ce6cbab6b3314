/**
 * Where the tools write: results on stdout, diagnostics on stderr, and progress (records and rate)
 * only when stderr is a terminal, so nothing but results reaches a pipe.
 */
import type { SingleBar } from 'cli-progress';

/** Writes `text` and a newline to stdout; `orNothing`: an empty text writes nothing at all. */
export function out(text: string, orNothing = false): void {
  if (orNothing && text === '') return;
  process.stdout.write(`${text}\n`);
}

export function err(text: string): void {
  process.stderr.write(`${text}\n`);
}

export function isInteractive(): boolean {
  return process.stderr.isTTY === true;
}

/** A live counter on the terminal (`sent 1200 records, 850/s`) and a summary line at the end. */
export class Progress {
  private bar: SingleBar | null = null;
  private count = 0;
  private readonly started = Date.now();
  private lastDraw = 0;

  private constructor(private readonly verb: string) {}

  /** Progress for `verb` ("sent", "received"); inert (not even loaded) when stderr is not a terminal. */
  static async start(verb: string): Promise<Progress> {
    const p = new Progress(verb);
    if (isInteractive()) {
      const { SingleBar } = await import('cli-progress');
      p.bar = new SingleBar({ format: `${verb} {value} records, {rate}/s`, stream: process.stderr, clearOnComplete: true, hideCursor: false, noTTYOutput: false });
      p.bar.start(0, 0, { rate: 0 });
    }
    return p;
  }

  add(n = 1): void {
    this.count += n;
    if (!this.bar) return;
    const now = Date.now();
    if (now - this.lastDraw < 100) return;
    this.lastDraw = now;
    this.bar.setTotal(this.count);
    this.bar.update(this.count, { rate: this.rate() });
  }

  private rate(): number {
    const s = (Date.now() - this.started) / 1000;
    return s > 0 ? Math.round(this.count / s) : this.count;
  }

  /** Clears the counter; on a terminal prints the summary. */
  stop(): void {
    if (!this.bar) return;
    this.bar.stop();
    this.bar = null;
    const s = (Date.now() - this.started) / 1000;
    err(`${this.verb} ${this.count} records in ${s.toFixed(1)} s (${this.rate()}/s)`);
  }

  /** Clears the terminal line so a printed record does not mix with the counter. */
  clearLine(): void {
    if (this.bar) process.stderr.write('\r\x1b[K');
  }
}
