/**
 * A log that lets through at most `perWindow` lines per `windowMs` and then says how many it held
 * back, so a flood of clients doing the same wrong thing cannot flood the log.
 */
import type { Logger } from './adapter.js';

export class RateLimitedLog {
  private windowStart = 0;
  private count = 0;
  private suppressed = 0;

  constructor(private readonly log: Logger, private readonly what: string, private readonly perWindow = 20, private readonly windowMs = 10_000) {}

  warn(obj: Record<string, unknown>, msg: string): void {
    this.write('warn', obj, msg);
  }

  info(obj: Record<string, unknown>, msg: string): void {
    this.write('info', obj, msg);
  }

  private write(level: 'warn' | 'info', obj: Record<string, unknown>, msg: string): void {
    const now = Date.now();
    if (now - this.windowStart >= this.windowMs) {
      if (this.suppressed > 0) this.log.warn({ suppressed: this.suppressed }, `${this.what}: similar lines suppressed`);
      this.windowStart = now;
      this.count = 0;
      this.suppressed = 0;
    }
    if (this.count++ < this.perWindow) this.log[level](obj, msg);
    else this.suppressed++;
  }
}
