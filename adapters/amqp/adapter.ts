/**
 * The AMQP 1.0 adapter: TCP (and TLS) listeners whose sockets each become an AmqpConnection
 * (rhea's engine in server mode behind a FrameGuard). See docs/amqp.md.
 */
import net from 'node:net';
import tls from 'node:tls';
import type { AdapterContext, ListenerInfo, ProtocolAdapter } from '../../core/adapter.js';
import { amqpSchema, resolveSettings } from './config.js';
import { AmqpConnection } from './connection.js';
import type { AmqpRuntime } from './runtime.js';
import { routeRheaConsole } from './rhea-console.js';
import { COND } from './states.js';

const SWEEP_MS = 1000;
const STOP_GRACE_MS = 2000;

interface Listener {
  server: net.Server;
  info: ListenerInfo;
  connections: Set<AmqpConnection>;
}

export class AmqpAdapter implements ProtocolAdapter {
  readonly name = 'amqp';
  readonly settingsSchema = amqpSchema;
  private ctx!: AdapterContext;
  private rt!: AmqpRuntime;
  private readonly listeners: Listener[] = [];
  private sweepTimer?: NodeJS.Timeout;
  private stopping = false;
  private unrouteConsole?: () => void;

  async init(ctx: AdapterContext): Promise<void> {
    this.ctx = ctx;
    this.rt = {
      broker: ctx.broker,
      auth: ctx.auth,
      sasl: ctx.sasl,
      log: ctx.log, // already a child with adapter: amqp
      settings: resolveSettings(ctx.config),
      clients: ctx.connections.clients,
    };
    this.unrouteConsole = routeRheaConsole(this.rt.log);
  }

  /** Open connections (all listeners). */
  get connectionCount(): number {
    let n = 0;
    for (const l of this.listeners) n += l.connections.size;
    return n;
  }

  async start(): Promise<ListenerInfo[]> {
    const { host, port, tlsPort } = this.ctx.listen;
    const out: ListenerInfo[] = [];
    if (port !== null) {
      const l = await this.open(net.createServer({ allowHalfOpen: true }), 'amqp', host, port, false);
      out.push(l.info);
    }
    const tlsOptions = tlsPort !== null ? this.ctx.tls('amqp') : null;
    if (tlsPort !== null && tlsOptions) {
      // Half-open (see the TCP listener) is set per socket once the handshake is done, in accept().
      const server = tls.createServer(tlsOptions);
      server.on('tlsClientError', (err) => this.rt.log.debug({ err: err.message }, 'AMQPS handshake failed'));
      const l = await this.open(server, 'amqps', host, tlsPort, true);
      out.push(l.info);
    }
    this.sweepTimer = setInterval(() => this.sweep(), SWEEP_MS);
    this.sweepTimer.unref();
    return out;
  }

  private open(server: net.Server, name: string, host: string, port: number, secure: boolean): Promise<Listener> {
    const l: Listener = { server, connections: new Set(), info: { name, protocol: 'amqp', host, port, tls: secure } };
    // One limit across the plain and TLS listeners, checked on the TCP socket before any protocol
    // work (for TLS: before the handshake).
    server.on('connection', (socket: net.Socket) => {
      if (this.stopping) socket.destroy();
      else if (this.ctx.connections.admit(socket, socket.remoteAddress) && !secure) this.accept(l, socket, secure);
    });
    if (secure) {
      server.on('secureConnection', (socket: net.Socket) => {
        // Half-open only once the handshake is done: a socket whose handshake a client abandoned must close.
        socket.allowHalfOpen = true;
        this.accept(l, socket, secure);
      });
    }
    server.on('error', (err) => this.rt.log.error({ err: err.message }, `${name} listener error`));
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      server.once('error', onError);
      const opts: net.ListenOptions = { port: port === -1 ? 0 : port };
      if (host !== '') opts.host = host;
      server.listen(opts, () => {
        server.off('error', onError);
        const addr = server.address() as net.AddressInfo;
        l.info.port = addr.port;
        this.listeners.push(l);
        resolve(l);
      });
    });
  }

  private accept(l: Listener, socket: net.Socket, secure: boolean): void {
    socket.on('error', () => undefined); // reported through the connection's end
    if (this.stopping) {
      socket.destroy();
      return;
    }
    socket.setNoDelay(true);
    try {
      const c = new AmqpConnection(this.rt, socket, secure);
      l.connections.add(c);
      c.onClosed = () => l.connections.delete(c);
    } catch (err) {
      this.rt.log.error({ err: (err as Error).message }, 'AMQP connection setup failed');
      socket.destroy();
    }
  }

  private sweep(): void {
    const now = Date.now();
    for (const l of this.listeners) {
      for (const c of l.connections) {
        try {
          c.sweep(now);
        } catch (err) {
          this.rt.log.error({ err: (err as Error).message }, 'AMQP sweep failed');
        }
      }
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.sweepTimer);
    const closing = this.listeners.map((l) => new Promise<void>((resolve) => l.server.close(() => resolve())));
    const all = this.listeners.flatMap((l) => [...l.connections]);
    for (const c of all) c.shutdown(COND.forced, 'the broker is shutting down');
    const deadline = Date.now() + STOP_GRACE_MS;
    while (this.connectionCount > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    for (const l of this.listeners) for (const c of l.connections) c.guard.destroy();
    await Promise.all(closing);
    this.listeners.length = 0;
    this.unrouteConsole?.();
  }
}
