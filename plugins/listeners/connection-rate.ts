/**
 * Per-address connection rate (`limits.connectionRate`): a token bucket per client IP address,
 * `burst` connections at once and `perSecond` more each second after that. Checked when a socket
 * is accepted, before the connection limit and any protocol work; a refused socket is destroyed.
 * One limiter serves every listener of the process (adapters and HTTP), so an address opening
 * connections to several ports shares one budget.
 *
 * Memory is bounded: buckets that have filled up again are forgotten (swept at most once a
 * minute, or when MAX_ADDRESSES are tracked, then the oldest go first).
 */
import type { Logger } from '../../core/adapter.js';
import { RateLimitedLog } from '../../core/rate-limited-log.js';

export interface ConnectionRateSettings {
  /** New connections per second per address once the burst is used (0.5 = one every 2 s); 0 = no rate limit. */
  perSecond: number;
  /** Connections an address may open at once. */
  burst: number;
  /** Addresses never limited (loopback by default: local tools, tests, a reverse proxy on the host). */
  exempt: string[];
}

const MAX_ADDRESSES = 100_000;
const SWEEP_MS = 60_000;

interface Bucket {
  tokens: number;
  at: number;
}

/** `::ffff:10.0.0.1` (an IPv4 client on a dual-stack socket) is `10.0.0.1`. */
function plain(address: string): string {
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}

export class ConnectionRateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly exempt: Set<string>;
  private lastSweep: number;
  private readonly warn: RateLimitedLog | null;
  /** Sockets refused so far. */
  refused = 0;

  constructor(private readonly settings: ConnectionRateSettings, log?: Logger, private readonly clock: () => number = Date.now) {
    this.exempt = new Set(settings.exempt.map(plain));
    this.lastSweep = clock();
    this.warn = log ? new RateLimitedLog(log, 'connection rate', 5) : null;
  }

  get enabled(): boolean {
    return this.settings.perSecond > 0;
  }

  /** Addresses tracked now (tests). */
  get tracked(): number {
    return this.buckets.size;
  }

  /** True when `address` may open a connection now (and counts it). */
  allow(address: string | undefined, protocol = ''): boolean {
    if (!this.enabled || !address) return true;
    const a = plain(address);
    if (this.exempt.has(a)) return true;
    const now = this.clock();
    if (now - this.lastSweep >= SWEEP_MS) this.sweep(now);
    const { perSecond, burst } = this.settings;
    let b = this.buckets.get(a);
    if (!b) {
      if (this.buckets.size >= MAX_ADDRESSES) this.sweep(now);
      b = { tokens: burst, at: now };
      this.buckets.set(a, b);
    } else {
      b.tokens = Math.min(burst, b.tokens + ((now - b.at) * perSecond) / 1000);
      b.at = now;
    }
    if (b.tokens < 1) {
      this.refused++;
      this.warn?.warn({ remote: a, protocol: protocol || undefined, perSecond, burst }, 'connection refused: address opens connections too fast');
      return false;
    }
    b.tokens -= 1;
    return true;
  }

  private sweep(now: number): void {
    this.lastSweep = now;
    const { perSecond, burst } = this.settings;
    for (const [a, b] of this.buckets) {
      if (b.tokens + ((now - b.at) * perSecond) / 1000 >= burst) this.buckets.delete(a);
    }
    // Still full: forget the oldest half (a bucket forgotten starts full again, so this errs towards admitting).
    if (this.buckets.size >= MAX_ADDRESSES) {
      let drop = this.buckets.size / 2;
      for (const a of this.buckets.keys()) {
        if (drop-- <= 0) break;
        this.buckets.delete(a);
      }
    }
  }
}
