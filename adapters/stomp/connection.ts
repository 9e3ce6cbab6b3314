/**
 * One STOMP connection: parser in, frames out, per-connection protocol state (version, principal,
 * subscriptions, transactions, temp queues, heart-beats) and flow control both ways:
 * - in: frames run in order; while a handler must finish before the next one runs (CONNECT,
 *   SUBSCRIBE that declares a queue, COMMIT, DISCONNECT...) or `maxInflightPublishes` SENDs
 *   (or `maxInflightBytes` of their bodies) wait for storage, later frames wait in a backlog, and past `maxReadAheadBytes` of them reading
 *   stops (before CONNECTED, nothing is read ahead of CONNECT);
 * - out: when the socket holds more than `maxWriteBuffer` bytes every subscription is paused
 *   (core consumer.pause()) until it drains.
 * Frames read are never discarded by the peer going away: after a half-close (FIN) the frames
 * read so far are processed in order, their receipts sent, then our side ends; after a full close
 * or reset they are still processed (stored), with nothing left to answer. Only DISCONNECT and
 * protocol errors drop what follows them.
 * Any protocol error: an ERROR frame (with `message` and, when the frame asked, `receipt-id`),
 * logged once, then the connection closes; nothing else is affected.
 */
import type { AuthAction, Logger, Principal } from '../../core/adapter.js';
import type { Message } from '../../core/message.js';
import { Deque } from '../../core/deque.js';
import { encodeFrame, encodeReceipt, HEARTBEAT, type StompFrame, type StompVersion } from './frame.js';
import type { ConnectionState, StompContext } from './context.js';
import { StompError, StompLoginRefused } from './errors.js';
import { handlers } from './handlers/index.js';
import { StompParseError, StompParser } from './parser.js';
import type { StompAdapterCore } from './adapter-core.js';
import { messageToFrame } from './stomp-message.js';
import type { StompTransaction, Subscription, SubscriptionOwner } from './subscription.js';
import type { Transport } from './transport.js';
import type { ClientConnection } from '../../core/connection-registry.js';

type Handler = (conn: StompContext, frame: StompFrame) => void | Promise<void>;

const AUTH_CACHE_MAX = 1024;
let nextConnectionNumber = 1;

export class StompConnection implements SubscriptionOwner, StompContext {
  readonly id = `c${nextConnectionNumber++}`;
  readonly log: Logger;
  state: ConnectionState = 'new';
  version: StompVersion = '1.0';
  principal: Principal | null = null;
  clientId?: string;
  readonly subscriptions = new Map<string, Subscription>();
  readonly subsByNum = new Map<number, Subscription>();
  readonly transactions = new Map<string, StompTransaction>();
  /** STOMP temp-queue name -> core queue name. */
  readonly tempQueues = new Map<string, string>();
  writePaused = false;
  private nextNum = 1;
  private readonly parser: StompParser;
  /** Frames read but not yet run (a handler is busy or too many SENDs await storage). */
  private readonly backlog = new Deque<StompFrame>();
  private backlogBytes = 0;
  private busy = false;
  private inflight = 0;
  /** Body bytes of the tracked operations (SEND bodies waiting for storage). */
  private inflightBytes = 0;
  private idleWaiters: Array<() => void> = [];
  private readingPaused = false;
  private readonly authCache = new Map<string, boolean>();
  private readSinceCheck = true;
  /** The peer sent FIN (or is gone): no more input will arrive. */
  private inputEnded = false;
  /** The transport closed: nothing more can be written; frames already read are still processed. */
  private transportGone = false;
  private wroteSinceBeat = false;
  private timers: NodeJS.Timeout[] = [];
  private connectTimer?: NodeJS.Timeout;
  /** This connection in the broker's registry: counters are plain fields on it. */
  readonly client: ClientConnection;
  private closeReason: string | null = null;

  constructor(readonly adapter: StompAdapterCore, readonly transport: Transport) {
    this.log = adapter.log.child({ conn: this.id, remote: transport.remote, via: transport.kind });
    const listener = transport.kind === 'tcp' ? 'stomp' : transport.kind === 'tls' ? 'stomp-tls' : 'stomp-ws';
    this.client = adapter.clients.open({ listener, remote: transport.remote, transport: transport.counters, close: (reason) => this.kick(reason) });
    const s = adapter.settings;
    this.parser = new StompParser(s, (f) => this.onFrame(f));
    transport.bind({
      data: (chunk) => this.receive(chunk),
      drain: () => this.drained(),
      end: () => this.peerEnded(),
      close: () => this.transportClosed(),
    });
    this.connectTimer = setTimeout(() => {
      if (this.state === 'new' || this.state === 'connecting') this.fatal(new StompError('no CONNECT frame in time'));
    }, s.handshakeTimeoutMs);
    this.connectTimer.unref();
  }

  get settings() {
    return this.adapter.settings;
  }

  get broker() {
    return this.adapter.broker;
  }

  /** True while deliveries can reach the client (subscribing makes sense). */
  get live(): boolean {
    return this.state === 'connected' && !this.transportGone;
  }

  /** Sets the negotiated version (header unescaping of the following frames depends on it). */
  setVersion(v: StompVersion): void {
    this.version = v;
    this.parser.version = v;
  }

  nextSubscriptionNumber(): number {
    return this.nextNum++;
  }

  /** A fresh core queue name for this connection: `tmp.stomp.<connection>.<n>`. */
  newQueueName(): string {
    return `tmp.stomp.${this.id}.${this.nextNum++}`;
  }

  // ---- input -------------------------------------------------------------------------------

  private receive(chunk: Buffer): void {
    this.readSinceCheck = true;
    if (this.state === 'closing' || this.state === 'closed') return;
    try {
      this.parser.push(chunk);
    } catch (err) {
      this.fatal(err instanceof StompParseError ? new StompError(err.message) : err as Error);
    }
  }

  private onFrame(frame: StompFrame): void {
    if (this.state === 'closing' || this.state === 'closed') return;
    if (this.busy || this.backlog.length > 0 || this.inflightFull()) {
      this.backlog.push(frame);
      this.backlogBytes += frameCost(frame);
      this.updateReading();
      return;
    }
    this.run(frame);
  }

  private run(frame: StompFrame): void {
    let result: void | Promise<void>;
    try {
      result = this.dispatch(frame);
    } catch (err) {
      this.fatal(err as Error, frame);
      return;
    }
    if (result) {
      this.busy = true;
      this.updateReading();
      result.then(() => {
        this.busy = false;
        this.drainBacklog();
      }, (err: Error) => {
        // Not busy any more, or the close that follows would wait for this frame forever and
        // the connection would never be released (it stayed counted against the limits).
        this.busy = false;
        this.fatal(err, frame);
      });
    }
  }

  private drainBacklog(): void {
    while (!this.busy && this.backlog.length > 0 && !this.inflightFull() && this.state !== 'closing' && this.state !== 'closed') {
      const frame = this.backlog.shift()!;
      this.backlogBytes -= frameCost(frame);
      this.run(frame);
    }
    this.updateReading();
    this.finishIfDone();
  }

  /** FIN from the peer (allowHalfOpen): finish the frames read, answer them, then end our side. */
  private peerEnded(): void {
    this.inputEnded = true;
    this.finishIfDone();
  }

  /** The transport closed (our end, the peer's close, or a reset). */
  private transportClosed(): void {
    if (this.state === 'closed') return;
    this.transportGone = true;
    this.inputEnded = true;
    // Nothing can be delivered any more: keep the queues' messages where they are.
    for (const s of this.subscriptions.values()) s.pause();
    // No receipt can be sent any more: a DISCONNECT need not wait for stores (they go on anyway).
    for (const w of this.idleWaiters.splice(0)) w();
    this.finishIfDone();
  }

  /** Once input has ended and every frame read has run: end (half-close) or release (closed). */
  private finishIfDone(): void {
    if (!this.inputEnded || this.busy || this.backlog.length > 0 || this.state === 'closed') return;
    if (this.transportGone) {
      this.cleanup();
      return;
    }
    if (this.state === 'closing') return;
    // Receipts of SENDs still being stored go out before our FIN.
    void this.whenIdle().then(() => this.close());
  }

  private dispatch(frame: StompFrame): void | Promise<void> {
    const cmd = frame.command;
    // Own properties only: a command named "constructor" or "__proto__" is just unknown.
    const handler = Object.hasOwn(handlers, cmd) ? (handlers as Record<string, Handler>)[cmd] : undefined;
    if (!handler) throw new StompError(`unknown command "${cmd.slice(0, 64)}"`);
    if (this.state !== 'connected' && cmd !== 'CONNECT' && cmd !== 'STOMP') {
      throw new StompError(`${cmd} frame before CONNECT`);
    }
    return handler(this, frame);
  }

  /**
   * Reading goes on while frames wait, up to `maxReadAheadBytes` of them: a client that pipelines
   * frames and closes gets them processed even when its close turns into a reset (our receipts
   * reaching a closed socket), which would discard bytes still unread. Before CONNECTED nothing
   * is read ahead.
   */
  private updateReading(): void {
    const stop = this.backlogBytes > this.settings.maxReadAheadBytes || (this.busy && this.state !== 'connected');
    if (stop && !this.readingPaused) {
      this.readingPaused = true;
      this.transport.pauseReading();
    } else if (!stop && this.readingPaused && this.state !== 'closed') {
      this.readingPaused = false;
      this.transport.resumeReading();
    }
  }

  /** Answers `frame`'s receipt once `done` resolves (the effect is stored); bounds pending work. */
  track(done: Promise<void>, frame: StompFrame): void {
    this.inflight++;
    const bytes = frame.body.length;
    this.inflightBytes += bytes;
    done.then(() => {
      this.inflight--;
      this.inflightBytes -= bytes;
      const receipt = frame.headers.receipt;
      if (receipt !== undefined) this.sendReceipt(receipt);
      this.settled();
    }, (err: Error) => {
      this.inflight--;
      this.inflightBytes -= bytes;
      this.fatal(err, frame);
      this.settled();
    });
  }

  /** Enough SENDs await storage: later frames wait (bounded by count and by bytes). */
  private inflightFull(): boolean {
    return this.inflight >= this.settings.maxInflightPublishes || this.inflightBytes >= this.settings.maxInflightBytes;
  }

  private settled(): void {
    if (!this.busy && this.backlog.length > 0 && !this.inflightFull()) this.drainBacklog();
    if (this.inflight === 0 && this.idleWaiters.length > 0) for (const w of this.idleWaiters.splice(0)) w();
  }

  /** Resolves when every tracked operation has finished. */
  whenIdle(): Promise<void> {
    if (this.inflight === 0 || this.transportGone) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Sends a RECEIPT now when the frame asked for one (effects that are already complete). */
  receipt(frame: StompFrame): void {
    const receipt = frame.headers.receipt;
    if (receipt !== undefined) this.sendReceipt(receipt);
  }

  /** Throws StompError unless the principal may do `action` on `address` (cached per connection). */
  authorise(action: AuthAction, address: string): void {
    const key = action + '\u0000' + address;
    let ok = this.authCache.get(key);
    if (ok === undefined) {
      ok = this.adapter.auth.authorise(this.principal!, action, address);
      if (this.authCache.size >= AUTH_CACHE_MAX) this.authCache.clear();
      this.authCache.set(key, ok);
    }
    if (!ok) throw new StompError('access refused', `user ${this.principal!.user} may not ${action} ${address}`);
  }

  // ---- output ------------------------------------------------------------------------------

  write(data: Buffer): void {
    if (this.state === 'closed') return;
    this.wroteSinceBeat = true;
    this.transport.write(data);
    if (!this.writePaused && this.transport.pending > this.settings.maxWriteBuffer) {
      this.writePaused = true;
      for (const s of this.subscriptions.values()) s.pause();
    }
  }

  sendFrame(command: string, headers: Record<string, string>, body?: Buffer | string): void {
    if (this.state === 'closing' || this.state === 'closed') return;
    this.write(encodeFrame(command, headers, body, this.state === 'new' ? null : this.version));
  }

  private sendReceipt(receiptId: string): void {
    if (this.state === 'closing' || this.state === 'closed') return;
    this.write(encodeReceipt(receiptId, this.state === 'new' ? null : this.version));
  }

  deliver(sub: Subscription, message: Message, tag: number, redelivered: boolean, extra?: string): void {
    if (!this.live) return;
    const id = `${this.id}-${sub.num}-${tag}`;
    this.write(messageToFrame(message, {
      destination: sub.destinationFor(message),
      subscription: sub.id,
      messageId: id,
      ack: sub.ackMode !== 'auto' && this.version === '1.2' ? id : undefined,
      redelivered,
      extra,
    }, this.version));
    this.client.messagesOut++;
    if (this.writePaused) sub.pause();
  }

  private drained(): void {
    if (!this.writePaused || !this.live) return;
    if (this.transport.pending > this.settings.maxWriteBuffer / 2) return;
    this.writePaused = false;
    for (const s of this.subscriptions.values()) s.resume();
  }

  /** Splits a MESSAGE's message-id / ack value into subscription number and delivery tag. */
  parseAckId(id: string): { num: number; tag: number } {
    const b = id.lastIndexOf('-');
    const a = id.lastIndexOf('-', b - 1);
    if (a < 0 || id.slice(0, a) !== this.id) throw new StompError(`unknown message id "${id.slice(0, 128)}"`);
    const num = Number(id.slice(a + 1, b));
    const tag = Number(id.slice(b + 1));
    if (!Number.isSafeInteger(num) || !Number.isSafeInteger(tag) || num <= 0 || tag <= 0) throw new StompError(`unknown message id "${id.slice(0, 128)}"`);
    return { num, tag };
  }

  // ---- subscriptions' callbacks --------------------------------------------------------------

  subscriptionFailed(sub: Subscription, err: Error): void {
    this.fatal(new StompError(`subscription ${sub.id} failed`, err.message));
  }

  subscriptionCancelled(sub: Subscription): void {
    if (sub.closed || this.state === 'closed') return;
    sub.closed = true;
    this.subscriptions.delete(sub.id);
    this.subsByNum.delete(sub.num);
    this.log.info({ subscription: sub.id, destination: sub.destination }, 'queue deleted under a STOMP subscription');
  }

  removeSubscription(sub: Subscription): void {
    this.subscriptions.delete(sub.id);
    this.subsByNum.delete(sub.num);
    sub.close();
  }

  // ---- connection lifecycle -----------------------------------------------------------------

  /** Called by CONNECT once accepted. */
  connected(cx: number, cy: number): [number, number] {
    clearTimeout(this.connectTimer);
    this.state = 'connected';
    this.client.identify(this.clientId ?? null, this.principal && !this.principal.anonymous ? this.principal.user : null);
    const s = this.settings;
    const sx = s.heartbeatMinMs;
    const sy = s.heartbeatMinMs;
    // Negotiation as the specification says: 0 on either side means none in that direction.
    const outMs = cy > 0 ? Math.min(Math.max(sx, cy), s.heartbeatMaxMs) : 0;
    const inMs = cx > 0 ? Math.max(cx, sy) : 0;
    if (outMs > 0) {
      // Checked twice per interval, so the gap between two writes never exceeds the interval.
      const t = setInterval(() => {
        if (!this.wroteSinceBeat) this.write(HEARTBEAT);
        this.wroteSinceBeat = false;
      }, Math.max(1, Math.floor(outMs / 2)));
      t.unref();
      this.timers.push(t);
    }
    if (inMs > 0) {
      this.readSinceCheck = true;
      const t = setInterval(() => {
        // A peer we are not reading (back-pressure) or that has ended its input cannot be late.
        if (this.readingPaused || this.inputEnded) this.readSinceCheck = true;
        if (!this.readSinceCheck) {
          this.log.info({ intervalMs: inMs }, 'STOMP heart-beat timeout: closing');
          this.closeReason ??= 'heart-beat timeout';
          this.close();
          return;
        }
        this.readSinceCheck = false;
      }, Math.ceil(inMs * s.heartbeatGrace));
      t.unref();
      this.timers.push(t);
    }
    return [sx, sy];
  }

  /** Answers with an ERROR frame (logged once) and closes. */
  fatal(err: Error, frame?: StompFrame): void {
    if (this.state === 'closing' || this.state === 'closed') return;
    const known = err instanceof StompError;
    const message = known ? err.message : errorMessage(err);
    this.closeReason ??= message;
    if (err instanceof StompLoginRefused) this.log.debug({ err: message }, 'STOMP login refused: closing connection');
    else if (known || isExpectedError(err)) {
      this.adapter.clients.protocolErrors++;
      this.log.warn({ err: message, detail: (err as StompError).detail, command: frame?.command }, 'STOMP protocol error: closing connection');
    } else this.log.error({ err, command: frame?.command }, 'STOMP connection failed: closing');
    const headers: Record<string, string> = { message };
    const receipt = frame?.headers.receipt;
    if (receipt !== undefined) headers['receipt-id'] = receipt;
    if (known && err.headers) Object.assign(headers, err.headers);
    headers['content-type'] = 'text/plain';
    const detail = known ? err.detail ?? message : message;
    this.write(encodeFrame('ERROR', headers, detail, this.state === 'new' ? null : this.version));
    this.close();
  }

  /** An administrator closes the connection: an ERROR frame says why. */
  kick(reason: string): void {
    if (this.state === 'closing' || this.state === 'closed') return;
    this.closeReason ??= reason;
    const headers = { message: reason, 'content-type': 'text/plain' };
    this.write(encodeFrame('ERROR', headers, reason, this.state === 'new' ? null : this.version));
    this.close();
  }

  /** Flushes output, then closes; forced after a grace period when the peer does not read. */
  close(reason?: string): void {
    if (this.state === 'closing' || this.state === 'closed') return;
    if (reason) this.closeReason ??= reason;
    this.state = 'closing';
    this.parser.stop();
    this.backlog.clear();
    this.backlogBytes = 0;
    this.transport.end();
    this.releaseState();
    if (this.transportGone) this.cleanup();
  }

  /** Transport closed: release everything. */
  cleanup(): void {
    if (this.state === 'closed') return;
    this.parser.stop();
    this.releaseState();
    this.state = 'closed';
    this.client.closed(this.closeReason ?? 'connection closed by the client');
    for (const t of this.timers) clearTimeout(t);
    this.timers = [];
    clearTimeout(this.connectTimer);
    for (const w of this.idleWaiters.splice(0)) w();
    this.adapter.connectionClosed(this);
  }

  private released = false;

  private releaseState(): void {
    if (this.released) return;
    this.released = true;
    for (const t of this.timers.splice(0)) clearInterval(t);
    for (const s of this.subscriptions.values()) s.close();
    this.subscriptions.clear();
    this.subsByNum.clear();
    for (const t of this.transactions.values()) {
      try { t.tx.rollback(); } catch { /* already finished */ }
    }
    this.transactions.clear();
    for (const q of this.tempQueues.values()) {
      this.broker.deleteQueue(q).catch((err: Error) => this.log.warn({ err: err.message, queue: q }, 'could not delete temp queue'));
    }
    this.tempQueues.clear();
    if (this.clientId !== undefined) this.adapter.releaseClientId(this.clientId, this);
    if (this.state === 'closing') {
      const t = setTimeout(() => this.transport.destroy(), 2000);
      t.unref();
      this.timers.push(t);
    }
  }
}

/** Approximate bytes a parsed frame holds (body, command and headers). */
function frameCost(frame: StompFrame): number {
  let n = frame.body.length + frame.command.length + 2;
  for (const k in frame.headers) n += k.length + (frame.headers[k]?.length ?? 0) + 2;
  return n;
}

function errorMessage(err: Error): string {
  if (isExpectedError(err)) return err.message;
  return 'internal error';
}

const EXPECTED = new Set([
  'QueueFullError', 'QueueNotFoundError', 'InvalidNameError', 'ExclusiveQueueError', 'TransactionStateError',
  'DestinationError', 'HeaderValueError', 'EscapeError', 'StompParseError', 'RangeError', 'AppendError',
  // The store refuses writes (a full disk): the client hears why, one warning per connection, no stack.
  'StorageFailedError',
]);

function isExpectedError(err: Error): boolean {
  return EXPECTED.has(err.name);
}
