/**
 * Every client connection of every protocol, for `/api/connections`, `/metrics` and the
 * connection lifecycle log. Protocol-neutral: an adapter registers a connection on accept
 * (`open`), says who it is once it knows (`identify`, after CONNECT or login), counts its messages
 * on the entry it keeps (plain number fields: no lookup or allocation per message), and closes it
 * with a reason. Bytes are read from the transport's own counters when asked, not counted.
 *
 *   const c = ctx.connections.clients.open({ listener: 'mqtt', remote, transport: socket, close: (r) => ... });
 *   c.identify(clientId, user);   c.messagesIn++;   c.closed('client disconnected');
 *
 * Per-user connection limit (`limits.maxConnectionsPerUser`, every protocol together): a
 * connection counts for its user from `claimUser` (an adapter calls it before it answers the login,
 * so it can refuse in its protocol's terms) or at the latest from `identify`, which closes a
 * connection over the limit the protocol's way (`close`) instead. Anonymous connections count
 * under the per-protocol limit only.
 */
import type { Logger } from './adapter.js';

/** What the registry reads of a transport for byte counts: net.Socket and tls.TLSSocket have both. */
export interface ByteCounters {
  readonly bytesRead: number;
  readonly bytesWritten: number;
}

export interface ConnectionOptions {
  /** The listener's name (`mqtt`, `mqtt-tls`, `mqtt-ws`, ...: AcceptedConnection.listener). */
  listener: string;
  /** `address:port` of the client. */
  remote: string;
  /** The socket under the protocol (for WebSocket, the HTTP request's socket). */
  transport?: ByteCounters;
  /** Closes the connection the protocol's own way, for an administrator; `reason` is for the client. */
  close(reason: string): void;
}

/** A connection as `/api/connections` shows it. */
export interface ConnectionView {
  id: string;
  protocol: string;
  listener: string;
  clientId: string | null;
  user: string | null;
  remote: string;
  connectedSince: string;
  messagesIn: number;
  messagesOut: number;
  bytesIn: number;
  bytesOut: number;
}

/** Counters of one protocol, open connections included. */
export interface ProtocolTotals {
  protocol: string;
  open: number;
  total: number;
  messagesIn: number;
  messagesOut: number;
  bytesIn: number;
  bytesOut: number;
  protocolErrors: number;
  refusedOverLimit: number;
  refusedOverRate: number;
}

export class ClientConnection {
  clientId: string | null = null;
  user: string | null = null;
  messagesIn = 0;
  messagesOut = 0;
  readonly since = Date.now();
  private known = false;
  private gone = false;
  /** The user this connection counts for (per-user limit), once claimed. */
  private counted: string | null = null;
  private finalBytesIn = 0;
  private finalBytesOut = 0;

  constructor(readonly id: string, private readonly owner: ProtocolConnections, private readonly opts: ConnectionOptions) {}

  get protocol(): string {
    return this.owner.protocol;
  }

  get bytesIn(): number {
    return this.gone ? this.finalBytesIn : (this.opts.transport?.bytesRead ?? 0);
  }

  get bytesOut(): number {
    return this.gone ? this.finalBytesOut : (this.opts.transport?.bytesWritten ?? 0);
  }

  get isClosed(): boolean {
    return this.gone;
  }

  /**
   * Counts this connection for `user` (null: anonymous, not counted). False when the user has
   * limits.maxConnectionsPerUser connections already: the caller refuses the login its own way.
   * `replacing`: this connection takes over one of the user's (an MQTT client id reconnecting), so
   * it is counted even at the limit; the one it replaces is about to close.
   */
  claimUser(user: string | null, replacing = false): boolean {
    if (this.gone || user === this.counted) return true;
    this.releaseUser();
    if (user === null) return true;
    if (!this.owner.registry.countUser(user, this, replacing)) return false;
    this.counted = user;
    return true;
  }

  private releaseUser(): void {
    if (this.counted !== null) this.owner.registry.uncountUser(this.counted);
    this.counted = null;
  }

  /**
   * Who the client is, once known (after its login); logged once as "client connected". A user
   * over its connection limit that was not claimed before is closed here.
   */
  identify(clientId: string | null, user: string | null): void {
    if (this.gone) return;
    if (!this.claimUser(user)) {
      this.kick(`too many connections for user ${user} (limits.maxConnectionsPerUser)`);
      return;
    }
    this.clientId = clientId;
    this.user = user;
    if (!this.known) {
      this.known = true;
      this.owner.logOpened(this);
    }
  }

  /** The connection is gone; the first reason given is the one logged. Idempotent. */
  closed(reason: string): void {
    if (this.gone) return;
    this.finalBytesIn = this.bytesIn;
    this.finalBytesOut = this.bytesOut;
    this.releaseUser();
    this.gone = true;
    this.owner.remove(this, reason, this.known);
  }

  /** Closes the connection the protocol's way (admin API). */
  kick(reason: string): void {
    if (!this.gone) this.opts.close(reason);
  }

  view(): ConnectionView {
    return {
      id: this.id, protocol: this.protocol, listener: this.opts.listener, clientId: this.clientId, user: this.user,
      remote: this.opts.remote, connectedSince: new Date(this.since).toISOString(),
      messagesIn: this.messagesIn, messagesOut: this.messagesOut, bytesIn: this.bytesIn, bytesOut: this.bytesOut,
    };
  }

  /** Fields for a log line. */
  logFields(): Record<string, unknown> {
    return { protocol: this.protocol, conn: this.id, clientId: this.clientId, user: this.user, remote: this.opts.remote, listener: this.opts.listener };
  }
}

/** Lifecycle log lines per protocol per second before the rest are summed up in one line. */
export const LIFECYCLE_LINES_PER_SECOND = 20;

/** One protocol's connections and counters, with its rate-limited lifecycle log. */
export class ProtocolConnections {
  readonly live = new Set<ClientConnection>();
  total = 0;
  /** Bad input or protocol violations that closed or refused something (adapters count). */
  protocolErrors = 0;
  /** Sockets closed on accept past the connection limit (core/connection-gate.ts counts). */
  refusedOverLimit = 0;
  /** Sockets closed on accept past the per-address connection rate (the listener service counts). */
  refusedOverRate = 0;
  private closedMessagesIn = 0;
  private closedMessagesOut = 0;
  private closedBytesIn = 0;
  private closedBytesOut = 0;
  private windowStart = 0;
  private lines = 0;
  private moreOpened = 0;
  private moreClosed = 0;
  private summaryTimer?: NodeJS.Timeout;

  constructor(readonly protocol: string, readonly registry: ConnectionRegistry, private readonly log?: Logger) {}

  open(opts: ConnectionOptions): ClientConnection {
    const c = new ClientConnection(this.registry.nextId(this.protocol), this, opts);
    this.live.add(c);
    this.registry.add(c);
    this.total++;
    return c;
  }

  totals(): ProtocolTotals {
    let mi = this.closedMessagesIn, mo = this.closedMessagesOut, bi = this.closedBytesIn, bo = this.closedBytesOut;
    for (const c of this.live) {
      mi += c.messagesIn;
      mo += c.messagesOut;
      bi += c.bytesIn;
      bo += c.bytesOut;
    }
    return { protocol: this.protocol, open: this.live.size, total: this.total, messagesIn: mi, messagesOut: mo, bytesIn: bi, bytesOut: bo, protocolErrors: this.protocolErrors,
      refusedOverLimit: this.refusedOverLimit, refusedOverRate: this.refusedOverRate,
    };
  }

  /** @internal */
  logOpened(c: ClientConnection): void {
    if (this.allowLine()) this.log?.info(c.logFields(), 'client connected');
    else this.moreOpened++;
  }

  /** @internal */
  remove(c: ClientConnection, reason: string, known: boolean): void {
    this.live.delete(c);
    this.registry.delete(c);
    this.closedMessagesIn += c.messagesIn;
    this.closedMessagesOut += c.messagesOut;
    this.closedBytesIn += c.bytesIn;
    this.closedBytesOut += c.bytesOut;
    const fields = { ...c.logFields(), reason, messagesIn: c.messagesIn, messagesOut: c.messagesOut, bytesIn: c.bytesIn, bytesOut: c.bytesOut };
    // A connection that never logged in (a probe, a refused login: auth logs those) is not news.
    if (!known) this.log?.debug(fields, 'connection closed before login');
    else if (this.allowLine()) this.log?.info(fields, 'client disconnected');
    else this.moreClosed++;
  }

  private allowLine(): boolean {
    const now = Date.now();
    if (now - this.windowStart >= 1000) {
      this.flushSummary();
      this.windowStart = now;
      this.lines = 0;
    }
    if (this.lines < LIFECYCLE_LINES_PER_SECOND) {
      this.lines++;
      return true;
    }
    if (!this.summaryTimer) {
      this.summaryTimer = setTimeout(() => this.flushSummary(), 1000 - (now - this.windowStart));
      this.summaryTimer.unref();
    }
    return false;
  }

  private flushSummary(): void {
    clearTimeout(this.summaryTimer);
    this.summaryTimer = undefined;
    if (this.moreOpened === 0 && this.moreClosed === 0) return;
    this.log?.info(
      { protocol: this.protocol, opened: this.moreOpened, closed: this.moreClosed },
      `${this.moreOpened} more connections opened, ${this.moreClosed} closed`,
    );
    this.moreOpened = 0;
    this.moreClosed = 0;
  }
}

/** Every protocol's connections, looked up by id for the admin API. */
export interface RegistryOptions {
  /** Connections one user may have open, every protocol together; 0 = no limit. */
  maxConnectionsPerUser?: number;
  /** Where refusals over the per-user limit are logged (at most once a second). */
  log?: Logger;
}

export class ConnectionRegistry {
  private readonly byId = new Map<string, ClientConnection>();
  private readonly protocols = new Map<string, ProtocolConnections>();
  private readonly perUser = new Map<string, number>();
  private seq = 0;
  private lastRefusalLog = 0;
  private refusedSinceLog = 0;
  /** Logins refused over limits.maxConnectionsPerUser since start. */
  refusedOverUserLimit = 0;

  constructor(private readonly options: RegistryOptions = {}) {}

  get maxConnectionsPerUser(): number {
    return this.options.maxConnectionsPerUser ?? 0;
  }

  /** Connections counted for `user` now. */
  userConnections(user: string): number {
    return this.perUser.get(user) ?? 0;
  }

  /** @internal ClientConnection.claimUser */
  countUser(user: string, c: ClientConnection, replacing: boolean): boolean {
    const n = this.perUser.get(user) ?? 0;
    const max = this.maxConnectionsPerUser;
    if (max > 0 && n >= max && !replacing) {
      this.refusedOverUserLimit++;
      this.refusedSinceLog++;
      const now = Date.now();
      if (now - this.lastRefusalLog >= 1000) {
        this.options.log?.warn({ user, protocol: c.protocol, conn: c.id, limit: max, refused: this.refusedSinceLog }, 'login refused: too many connections for this user');
        this.lastRefusalLog = now;
        this.refusedSinceLog = 0;
      }
      return false;
    }
    this.perUser.set(user, n + 1);
    return true;
  }

  /** @internal */
  uncountUser(user: string): void {
    const n = (this.perUser.get(user) ?? 1) - 1;
    if (n <= 0) this.perUser.delete(user);
    else this.perUser.set(user, n);
  }

  /** The protocol's part (made on first use; the logger of the first call is kept). */
  forProtocol(protocol: string, log?: Logger): ProtocolConnections {
    let p = this.protocols.get(protocol);
    if (!p) {
      p = new ProtocolConnections(protocol, this, log);
      this.protocols.set(protocol, p);
    }
    return p;
  }

  get(id: string): ClientConnection | undefined {
    return this.byId.get(id);
  }

  /** Open connections, oldest first. */
  list(): ClientConnection[] {
    return [...this.byId.values()];
  }

  totals(): ProtocolTotals[] {
    return [...this.protocols.values()].map((p) => p.totals());
  }

  /** @internal */
  nextId(protocol: string): string {
    return `${protocol}-${++this.seq}`;
  }

  /** @internal */
  add(c: ClientConnection): void {
    this.byId.set(c.id, c);
  }

  /** @internal */
  delete(c: ClientConnection): void {
    this.byId.delete(c.id);
  }
}
