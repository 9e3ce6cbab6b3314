/** What the adapter's parts share: the core, settings, plug-ins and counters. */
import type { AuthPlugin, Logger, SaslService } from '../../core/adapter.js';
import type { Broker } from '../../core/broker.js';
import type { ProtocolConnections } from '../../core/connection-registry.js';
import type { MqttSettings } from './config.js';
import type { SessionManager } from './sessions.js';
import type { SessionStore } from './session-store.js';

export interface MqttStats {
  /** Connections open now (any transport, before and after CONNECT). */
  connections: number;
  /** CONNECTs accepted since start. */
  connects: number;
  publishesReceived: number;
  publishesSent: number;
  /** Outgoing messages discarded because they exceeded the client's Maximum Packet Size. */
  droppedTooLarge: number;
  /** Connections closed for a protocol violation or bad input. */
  protocolErrors: number;
  willsPublished: number;
  sessionsExpired: number;
}

export interface MqttContext {
  broker: Broker;
  settings: MqttSettings;
  auth: AuthPlugin;
  /** SASL mechanisms for MQTT 5 enhanced authentication. */
  sasl: SaslService;
  log: Logger;
  store: SessionStore;
  sessions: SessionManager;
  stats: MqttStats;
  /** The broker's registry of client connections (admin API, metrics, lifecycle log). */
  clients: ProtocolConnections;
  /** Logs bad input at warn, at most a few lines a second (a flood is summarised). */
  warnLimited(obj: Record<string, unknown>, msg: string): void;
  /**
   * A store write failed. A refusal of the store (a full disk, storage.maxDiskBytes) is counted and
   * logged once a minute at warn without a stack (core/store-refusal-log.ts); anything else is
   * logged at error with `msg`. True when it was a refusal.
   */
  storeError(err: unknown, obj: Record<string, unknown>, msg: string): boolean;
}

/** A timer for delays longer than setTimeout allows (session expiry can be 136 years). Unref'd. */
export class LongTimer {
  private handle?: NodeJS.Timeout;
  private cancelled = false;

  constructor(private readonly at: number, private readonly fn: () => void) {
    this.arm();
  }

  private arm(): void {
    if (this.cancelled) return;
    const left = this.at - Date.now();
    this.handle = left <= 0
      ? setTimeout(() => { if (!this.cancelled) this.fn(); }, 0)
      : setTimeout(() => this.arm(), Math.min(left, 2_000_000_000));
    this.handle.unref();
  }

  cancel(): void {
    this.cancelled = true;
    clearTimeout(this.handle);
  }
}

/** Session expiry 0xFFFFFFFF means the session never expires. */
export const NEVER = 0xffffffff;
