/**
 * Failed logins per remote address: past `maxPerMinute` failures in one minute the address is
 * refused until that minute ends (a fixed window that starts at its first failure). Bounded: at
 * most MAX_ADDRESSES addresses are tracked; the oldest window goes first.
 */
const WINDOW_MS = 60_000;
const MAX_ADDRESSES = 10_000;

interface Window {
  start: number;
  failures: number;
}

export class LoginFailures {
  private readonly byAddress = new Map<string, Window>();

  constructor(
    /** 0 = no limit. */
    private readonly maxPerMinute: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** True while `remote` has used up its failures for the current minute. */
  blocked(remote: string | undefined): boolean {
    if (remote === undefined || this.maxPerMinute <= 0) return false;
    const w = this.current(remote);
    return w !== undefined && w.failures >= this.maxPerMinute;
  }

  /** Counts one failure; true when this one used up the address's allowance (log it once). */
  record(remote: string | undefined): boolean {
    if (remote === undefined || this.maxPerMinute <= 0) return false;
    let w = this.current(remote);
    if (!w) {
      if (this.byAddress.size >= MAX_ADDRESSES) this.byAddress.delete(this.byAddress.keys().next().value!);
      w = { start: this.now(), failures: 0 };
      this.byAddress.set(remote, w);
    }
    w.failures++;
    return w.failures === this.maxPerMinute;
  }

  /** Milliseconds until `remote` may try again (0 when it may now). */
  retryAfterMs(remote: string): number {
    const w = this.current(remote);
    return w && w.failures >= this.maxPerMinute ? w.start + WINDOW_MS - this.now() : 0;
  }

  private current(remote: string): Window | undefined {
    const w = this.byAddress.get(remote);
    if (w && this.now() - w.start >= WINDOW_MS) {
      this.byAddress.delete(remote);
      return undefined;
    }
    return w;
  }
}
