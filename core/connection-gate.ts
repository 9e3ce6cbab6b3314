/**
 * One connection limit per adapter, counted across all of its listeners (plain, TLS, WebSocket)
 * and checked when a socket is accepted, before any protocol work. A refused socket is destroyed
 * at once; refusals are logged at most once per second so a flood does not flood the log.
 *
 *   server.on('connection', (s) => { if (!gate.admit(s)) return; ... });
 *
 * Adapters do not call it themselves: the listener service (ctx.listeners, plugins/listeners)
 * admits every socket it accepts; the HTTP listener has a gate of its own. `gate.clients` is the
 * protocol's entry in the connection registry (core/connection-registry.ts), ctx.clients.
 */
import type { Logger } from './adapter.js';
import { ConnectionRegistry, type ProtocolConnections } from './connection-registry.js';

/** What the gate needs of a transport: net.Socket, tls.TLSSocket or a ws WebSocket. */
export interface GatedTransport {
  once(event: 'close', listener: () => void): unknown;
  destroy?(): void;
  terminate?(): void;
}

export class ConnectionGate {
  private open = 0;
  private refusedSinceLog = 0;
  private lastLog = 0;
  refused = 0;
  /** This protocol's client connections (the registry behind /api/connections and /metrics). */
  readonly clients: ProtocolConnections;

  /** `limit` <= 0 means no limit. The registry is the broker's; tests that build one gate get their own. */
  constructor(readonly protocol: string, readonly limit: number, private readonly log?: Logger, registry = new ConnectionRegistry()) {
    this.clients = registry.forProtocol(protocol, log);
  }

  get count(): number {
    return this.open;
  }

  /** Counts the transport until it closes; false (and the transport destroyed) when over the limit. */
  admit(transport: GatedTransport, remote?: string): boolean {
    if (this.limit > 0 && this.open >= this.limit) {
      this.refused++;
      this.clients.refusedOverLimit++;
      this.refusedSinceLog++;
      const now = Date.now();
      if (now - this.lastLog >= 1000) {
        this.log?.warn({ protocol: this.protocol, remote, limit: this.limit, refused: this.refusedSinceLog }, 'connection refused: too many connections');
        this.refusedSinceLog = 0;
        this.lastLog = now;
      }
      if (transport.terminate) transport.terminate();
      else transport.destroy?.();
      return false;
    }
    this.open++;
    transport.once('close', () => { this.open--; });
    return true;
  }
}
