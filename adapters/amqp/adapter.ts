/**
 * The AMQP 1.0 adapter: the listener service's TCP and TLS sockets each become an AmqpConnection
 * (rhea's engine in server mode behind a FrameGuard). See docs/amqp.md.
 */
import type { AdapterContext, ListenerInfo, ProtocolAdapter } from '../../core/adapter.js';
import { amqpSchema, resolveSettings } from './config.js';
import { AmqpConnection } from './connection.js';
import type { AmqpRuntime } from './runtime.js';
import { routeRheaConsole } from './rhea-console.js';
import { COND } from './states.js';

const SWEEP_MS = 1000;

export class AmqpAdapter implements ProtocolAdapter {
  readonly name = 'amqp';
  readonly settingsSchema = amqpSchema;
  private ctx!: AdapterContext;
  private rt!: AmqpRuntime;
  private readonly connections = new Set<AmqpConnection>();
  private sweepTimer?: NodeJS.Timeout;
  private unrouteConsole?: () => void;

  async init(ctx: AdapterContext): Promise<void> {
    this.ctx = ctx;
    this.rt = {
      broker: ctx.broker,
      auth: ctx.auth,
      sasl: ctx.sasl,
      log: ctx.log, // already a child with adapter: amqp
      settings: resolveSettings(ctx.config),
      clients: ctx.clients,
    };
    this.unrouteConsole = routeRheaConsole(this.rt.log);
  }

  /** Open connections (all listeners). */
  get connectionCount(): number {
    return this.connections.size;
  }

  async start(): Promise<ListenerInfo[]> {
    const listeners = await this.ctx.listeners.open({
      // Half-open: after a client's FIN what it sent is handled before we close (connection.ts).
      halfOpen: true,
      tlsHandshakeTimeoutMs: this.rt.settings.handshakeTimeoutMs,
      socket: (socket, accepted) => {
        const c = new AmqpConnection(this.rt, socket, accepted.kind === 'tls');
        this.connections.add(c);
        c.onClosed = () => this.connections.delete(c);
        return { shutdown: () => c.shutdown(COND.forced, 'the broker is shutting down') };
      },
    });
    this.sweepTimer = setInterval(() => this.sweep(), SWEEP_MS);
    this.sweepTimer.unref();
    return listeners;
  }

  /** Handshake and idle deadlines, which AMQP answers with its own close (connection.ts). */
  private sweep(): void {
    const now = Date.now();
    for (const c of this.connections) {
      try {
        c.sweep(now);
      } catch (err) {
        this.rt.log.error({ err: (err as Error).message }, 'AMQP sweep failed');
      }
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.sweepTimer);
    await this.ctx.listeners.close();
    this.unrouteConsole?.();
  }
}
