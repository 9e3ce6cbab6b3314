/**
 * MQTT keep-alive (3.1.2.10): a client silent for one and a half times its keep-alive interval
 * is disconnected. One timer per connection, re-armed for the time left rather than per packet.
 */
export class KeepAlive {
  private ms = 0;
  private timer?: NodeJS.Timeout;
  private lastActivity = Date.now();

  /** `watching()` false: the connection is past caring (not connected, or its input has ended). */
  constructor(private readonly watching: () => boolean, private readonly expired: () => void) {}

  /** Input arrived. */
  touch(): void {
    this.lastActivity = Date.now();
  }

  start(seconds: number): void {
    if (seconds <= 0) return;
    this.ms = seconds * 1500;
    this.arm(this.ms);
  }

  stop(): void {
    clearTimeout(this.timer);
  }

  private arm(ms: number): void {
    this.timer = setTimeout(() => this.check(), ms);
    this.timer.unref();
  }

  private check(): void {
    if (!this.watching()) return;
    const idle = Date.now() - this.lastActivity;
    if (idle >= this.ms) {
      this.expired();
      return;
    }
    this.arm(this.ms - idle);
  }
}
