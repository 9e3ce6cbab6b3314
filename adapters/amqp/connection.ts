/**
 * One AMQP connection: rhea's engine (rhea-internals.ts: a per-connection container in server
 * mode, patched) fed through the FrameGuard. This file holds the connection's life: SASL outcome,
 * open, sessions and links (links.ts), output back-pressure, and closing:
 *
 *  - every rhea error (a throw while reading, writing or processing) ends in an AMQP close with a
 *    condition and never escapes into the process;
 *  - a peer's half-close (FIN) ends nothing read: the transfers already read are stored and settled
 *    (their dispositions still go out), then we close (AMQP close, then our FIN). A peer that
 *    closes or resets at once cannot read dispositions, but its transfers are stored all the same.
 *
 * Limits: sessions (channel-max), links per session (handle-max) and per connection, frame size
 * (FrameGuard), message size, idle timeout, handshake time.
 */
import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import type { AuthAction, Logger, Principal } from '../../core/adapter.js';
import type { ClientConnection } from '../../core/connection-registry.js';
import type { Consumer } from '../../core/queue-consumer.js';
import { rollback } from './coordinator.js';
import { FrameGuard, type Violation } from './frame-guard.js';
import type { IncomingLink } from './incoming-link.js';
import type { LinkContext, TxnState } from './link-context.js';
import { LinkTable } from './links.js';
import { applyOutcome } from './outgoing-link.js';
import { checkFields } from './performative-checks.js';
import { RheaEngine, type RLink, type RSession } from './rhea-internals.js';
import type { AmqpRuntime } from './runtime.js';
import { serverMechanisms } from './sasl.js';
import { AmqpConditionError, COND, type ParsedOutcome } from './states.js';

/** Frame size accepted before open is exchanged (SASL and open frames). */
const PRE_OPEN_MAX_FRAME = 65536;
/** After our close, how long the peer has to answer before the socket is destroyed. */
const CLOSE_GRACE_MS = 2000;
/** Smallest idle timeout we honour from a peer (its heartbeats are sent at half of it). */
const MIN_REMOTE_IDLE_MS = 1000;
const MIN_MAX_FRAME = 512;
/** After a peer's FIN, how long the transfers it sent may take to settle before we close anyway. */
const FIN_SETTLE_MS = 30_000;
/** Bytes of deliveries waiting for the socket beyond which a connection's consumers pause. */
const OUTPUT_HIGH_WATER = 1024 * 1024;

let nextConnection = 1;

export class AmqpConnection implements LinkContext {
  readonly num = nextConnection++;
  /** Owner id for exclusive queues and no-local subscriptions. */
  readonly id = `amqp:${this.num}`;
  readonly log: Logger;
  readonly engine: RheaEngine;
  readonly links: LinkTable;
  readonly guard: FrameGuard;
  principal: Principal | null = null;
  remoteContainerId = '';
  opened = false;
  closed = false;
  blocked = false;
  lastActivity = Date.now();
  readonly createdAt = Date.now();
  readonly txns = new Map<string, TxnState>();
  readonly tempQueues = new Set<string>();
  /** Called once the connection is gone. */
  onClosed?: () => void;
  private closing = false;
  private saslFailed = false;
  private tempCounter = 0;
  private destroyTimer?: NodeJS.Timeout;
  /** Transfers handed to link handlers and not settled by them yet. */
  private incomingPending = 0;
  /** The peer half-closed: nothing more will be read; we close once what was read is settled. */
  private inputEnded = false;
  private finTimer?: NodeJS.Timeout;
  /** This connection in the broker's registry: counters are plain fields on it. */
  readonly client: ClientConnection;
  private closeReason: string | null = null;

  constructor(readonly rt: AmqpRuntime, socket: Socket, readonly tls: boolean) {
    const s = rt.settings;
    const remote = `${socket.remoteAddress}:${socket.remotePort}`;
    this.log = rt.log.child({ conn: this.id, remote });
    this.client = rt.clients.open({ listener: tls ? 'amqp-tls' : 'amqp', remote, transport: socket, close: (reason) => this.kick(reason) });
    // Socket events run outside rhea's own error handling: nothing may throw out of them.
    const safe = (fn: () => void) => () => {
      try {
        fn();
      } catch (err) {
        this.onError(err);
      }
    };
    this.guard = new FrameGuard(socket, !rt.auth.anonymousAllowed, Math.max(PRE_OPEN_MAX_FRAME, s.maxFrameSize), s.maxFrameSize, {
      violation: (v) => safe(() => this.onViolation(v))(),
      activity: () => { this.lastActivity = Date.now(); },
      blocked: safe(() => this.checkOutput()),
      drained: safe(() => this.checkOutput()),
      flushed: safe(() => {
        this.handedBytes = 0;
        this.checkOutput();
      }),
      peerEnded: safe(() => this.onPeerEnded()),
    });
    this.guard.on('end', () => {
      try {
        this.cleanup();
      } catch (err) {
        this.log.error({ err: (err as Error).message }, 'AMQP connection cleanup failed');
      }
    });

    const peer = { protocol: 'amqp', remote: socket.remoteAddress, tls: socket instanceof TLSSocket ? socket : null };
    const mechanisms = serverMechanisms(rt.sasl, peer, {
      authenticated: (p) => {
        this.principal = p;
        this.guard.saslDone();
      },
      failed: (mechanism, reason) => {
        this.saslFailed = true;
        this.closeReason ??= 'authentication failed';
        // The auth plugin logged a refused login (with the user and address) already.
        this.log.debug({ mechanism, reason }, 'AMQP authentication failed');
        setImmediate(() => this.endSoon());
      },
    });
    this.engine = new RheaEngine(this.guard, {
      containerId: s.containerId,
      connectionId: this.id,
      maxFrameSize: s.maxFrameSize,
      maxSessions: s.maxSessions,
      maxLinksPerSession: s.maxLinksPerSession,
      maxMessageSize: s.maxMessageSize,
      idleTimeoutMs: s.idleTimeoutMs,
      sessionWindow: s.sessionWindow,
      mechanisms,
    }, {
      closing: () => this.closing,
      error: (err) => this.onError(err),
      checkFields,
      linkError: (link, condition, description) => this.links.closeLink(link, { condition, description }),
      transfer: (receiver, d, bytes, state) => {
        const h = this.links.incoming(receiver);
        if (!h) return false;
        this.incomingPending++;
        h.transfer(d, bytes, state);
        return true;
      },
      outcome: (d, state, settled) => this.links.outcome(d, state, settled),
      afterProcess: () => this.links.afterProcess(),
    });
    this.links = new LinkTable({
      log: this.log,
      engine: this.engine,
      closing: () => this.closing,
      error: (err) => this.onError(err),
    }, this, s.maxLinksPerConnection, s.maxSessions);
    this.listen();
    this.engine.accept(this.guard);
  }

  // ---- events ---------------------------------------------------------------------------------

  private listen(): void {
    const rc = this.engine.rc;
    const safe = (fn: (ctx: Record<string, unknown>) => void) => (ctx: Record<string, unknown>) => {
      try {
        fn(ctx);
      } catch (err) {
        this.onError(err);
      }
    };
    rc.on('connection_open', safe(() => this.onOpen()));
    rc.on('connection_close', () => { this.closeReason ??= 'client disconnected'; });
    rc.on('connection_error', safe((ctx) => {
      const e = ctx.error as { condition?: string; description?: string } | undefined;
      this.log.debug({ condition: e?.condition, description: e?.description }, 'AMQP peer closed with an error');
      this.closeReason ??= `client closed with ${e?.condition ?? 'an error'}`;
    }));
    rc.on('disconnected', safe(() => this.cleanup()));
    rc.on('protocol_error', (e: unknown) => this.onError(e, COND.decodeError));
    rc.on('error', (e: unknown) => this.onError(e));
    rc.on('session_open', safe((ctx) => this.links.sessionOpened(ctx.session as RSession)));
    rc.on('session_close', safe((ctx) => this.links.sessionEnded(ctx.session as RSession)));
    rc.on('session_error', () => undefined);
    rc.on('receiver_open', safe((ctx) => this.links.attached(ctx.receiver as RLink)));
    rc.on('sender_open', safe((ctx) => this.links.attached(ctx.sender as RLink)));
    rc.on('receiver_close', safe((ctx) => this.links.detached(ctx.receiver as RLink)));
    rc.on('sender_close', safe((ctx) => this.links.detached(ctx.sender as RLink)));
    rc.on('receiver_error', () => undefined);
    rc.on('sender_error', () => undefined);
    rc.on('sender_flow', safe((ctx) => this.links.sender(ctx.sender as RLink)?.onFlow()));
    rc.on('sender_draining', safe((ctx) => this.links.sender(ctx.sender as RLink)?.drain()));
    rc.on('sendable', safe((ctx) => this.links.sender(ctx.sender as RLink)?.flush()));
    rc.on('receiver_flow', () => undefined);
    rc.on('settled', () => undefined);
    rc.on('message', () => undefined);
  }

  private onOpen(): void {
    const remote = this.engine.rc.remote.open!;
    this.remoteContainerId = typeof remote.container_id === 'string' ? remote.container_id : '';
    const maxFrame = remote.max_frame_size;
    if (typeof maxFrame === 'number' && maxFrame < MIN_MAX_FRAME) {
      throw new AmqpConditionError(COND.invalidField, `max-frame-size ${maxFrame} is below ${MIN_MAX_FRAME}`);
    }
    const idle = remote.idle_time_out;
    if (typeof idle === 'number' && idle > 0 && idle < MIN_REMOTE_IDLE_MS) remote.idle_time_out = MIN_REMOTE_IDLE_MS;
    if (!this.principal) {
      if (!this.rt.auth.anonymousAllowed) throw new AmqpConditionError(COND.unauthorized, 'authentication required');
      this.principal = { user: 'anonymous', anonymous: true };
    }
    // Counted for its user before the open is answered (limits.maxConnectionsPerUser); the registry logs refusals.
    if (!this.client.claimUser(this.principal.anonymous ? null : this.principal.user)) {
      throw new AmqpConditionError(COND.resourceLimit, 'too many connections for this user');
    }
    this.opened = true;
    this.client.identify(this.remoteContainerId || null, this.principal.anonymous ? null : this.principal.user);
    this.log.debug({ container: this.remoteContainerId, user: this.principal.user }, 'AMQP connection open');
  }

  // ---- services for link handlers ----------------------------------------------------------------

  /** A promise of ours whose failure would be a bug: the connection closes with amqp:internal-error. */
  track(p: Promise<unknown>): void {
    p.catch((err) => this.onError(err));
  }

  /** A core promise (ack, delete...) nobody waits for: a failure is logged, never unhandled. */
  quiet(p: Promise<unknown>): void {
    p.catch((err) => this.log.warn({ err: (err as Error)?.message }, 'AMQP: core operation failed'));
  }

  authorise(action: AuthAction, address: string): boolean {
    return this.principal !== null && this.rt.auth.authorise(this.principal, action, address);
  }

  newTempQueueName(): string {
    return `tmp.amqp.${this.num}.${++this.tempCounter}`;
  }

  /** Credit given to the peer's producer links plus their publishes not yet resolved. */
  publishCommitted = 0;
  /** Producer links that wanted credit beyond the connection's bound. */
  readonly starved = new Set<IncomingLink>();

  /** `n` units of producer credit came back (a publish settled, credit withdrawn). */
  creditReturned(n: number): void {
    this.publishCommitted -= n;
    if (this.starved.size > 0 && !this.closing) {
      const links = [...this.starved];
      this.starved.clear();
      for (const l of links) l.topUp();
    }
  }

  /** Stages a transactional disposition; false when the transaction is unknown. */
  stageDisposition(consumer: Consumer, tag: number, txnId: Buffer, outcome: ParsedOutcome | null): boolean {
    const t = this.txns.get(txnId.toString('hex'));
    if (!t) return false;
    const o = outcome ?? { kind: 'accepted' as const };
    switch (o.kind) {
      case 'accepted': t.txn.ack(consumer, tag); break;
      case 'released': t.txn.nack(consumer, tag, { requeue: true, failed: false }); break;
      case 'modified': t.txn.nack(consumer, tag, { requeue: true, failed: o.deliveryFailed, avoidConsumer: o.undeliverableHere }); break;
      case 'rejected': t.txn.nack(consumer, tag, { requeue: false, failed: false }); break;
      default: this.quiet(applyOutcome(consumer, tag, o)); return true;
    }
    t.settledAcks.push({ consumer, tag });
    return true;
  }

  /** Delivery bytes handed to rhea since the last socket write (they are on their way out). */
  private handedBytes = 0;

  /** An outgoing link handed `n` bytes to rhea: past the high-water mark, consumers pause. */
  handedOut(n: number): void {
    this.handedBytes += n;
    if (!this.blocked && this.handedBytes + this.guard.unwritten > this.outputHighWater) this.setBlocked(true);
  }

  private get outputHighWater(): number {
    return Math.max(OUTPUT_HIGH_WATER, 4 * this.rt.settings.maxFrameSize);
  }

  /** Consumers run while the socket takes what we write and little is waiting for it. */
  private checkOutput(): void {
    this.setBlocked(this.inputEnded || this.guard.blocked || this.handedBytes + this.guard.unwritten > this.outputHighWater);
  }

  private setBlocked(blocked: boolean): void {
    if (this.blocked === blocked) return;
    this.blocked = blocked;
    for (const o of this.links.outgoing) {
      if (blocked) o.pause();
      else o.flush();
    }
  }

  // ---- errors and closing ---------------------------------------------------------------------

  /** A link handler settled (or dropped) a transfer it was handed. */
  incomingSettled(): void {
    this.incomingPending--;
    // After the disposition rhea is about to write.
    if (this.inputEnded && this.incomingPending <= 0) setImmediate(() => this.finishInput());
  }

  /** FIN from the peer: settle what was read, then close. Consumers stop: the peer cannot settle more. */
  private onPeerEnded(): void {
    this.inputEnded = true;
    if (this.closing || this.closed) return;
    this.lastActivity = Date.now();
    this.checkOutput();
    if (this.incomingPending > 0) {
      this.log.debug({ pending: this.incomingPending }, 'AMQP peer ended its input: settling the transfers read before closing');
      this.finTimer = setTimeout(() => {
        this.log.info({ pending: this.incomingPending }, 'AMQP transfers read before the peer\'s FIN still unsettled: closing');
        this.closeAfterInput();
      }, FIN_SETTLE_MS);
      this.finTimer.unref();
    }
    this.finishInput();
  }

  private finishInput(): void {
    if (this.inputEnded && this.incomingPending <= 0) this.closeAfterInput();
  }

  /** Our close after the peer's FIN: an AMQP close (no error) when the connection is open, then our FIN. */
  private closeAfterInput(): void {
    if (this.closing || this.closed) return;
    this.closing = true;
    if (this.opened && this.engine.canCloseQuietly) {
      try {
        this.engine.closeNow();
      } catch {
        // ended below
      }
    }
    this.endSoon();
  }

  private onViolation(v: Violation): void {
    this.rt.clients.protocolErrors++;
    this.closeReason ??= v.detail;
    this.log.info({ detail: v.detail }, v.kind === 'decode' ? 'AMQP connection refused: undecodable performative' : 'AMQP connection refused: bad framing');
    if (v.kind === 'header') {
      this.guard.writeRaw(v.reply);
      this.endSoon();
      return;
    }
    if (v.sasl) {
      this.endSoon();
      return;
    }
    this.fail(v.kind === 'decode' ? COND.decodeError : COND.framingError, v.detail);
  }

  private onError(err: unknown, fallback: string = COND.internalError): void {
    const e = err as { condition?: string; message?: string; name?: string };
    const condition = typeof e?.condition === 'string' && e.condition.startsWith('amqp:')
      ? e.condition
      : e?.name === 'ProtocolError' || e?.name === 'TypeError' || e?.name === 'RangeError' || e?.name === 'AmqpDecodeError'
        ? COND.decodeError
        : fallback;
    if (condition === COND.internalError) this.log.warn({ err: e?.message }, 'AMQP connection error');
    else this.rt.clients.protocolErrors++;
    if (condition !== COND.internalError) this.log.info({ condition, detail: e?.message }, 'AMQP connection closed on bad input');
    this.fail(condition, e?.message ?? String(err));
  }

  /** Closes with an AMQP error (open first if ours is not out yet), then ends the socket. */
  fail(condition: string, description: string): void {
    this.closeReason ??= `${condition}: ${description}`;
    if (this.closing) {
      this.endSoon();
      return;
    }
    this.closing = true;
    this.guard.stopInput();
    if (this.guard.amqpStarted && !this.saslFailed) {
      try {
        this.engine.closeNow({ condition, description }, true);
      } catch {
        // the socket is ended below either way
      }
    }
    this.endSoon();
  }

  /** An administrator closes the connection: an AMQP close with amqp:connection:forced. */
  kick(reason: string): void {
    this.closeReason ??= reason;
    if (this.opened) this.shutdown('amqp:connection:forced', reason);
    else this.fail('amqp:connection:forced', reason);
  }

  /** Graceful close from our side (adapter stop). */
  shutdown(condition: string, description: string): void {
    if (this.closing || this.closed) return;
    this.closeReason ??= description;
    if (!this.opened) {
      this.closing = true;
      this.endSoon();
      return;
    }
    this.closing = true;
    try {
      this.engine.closeNow({ condition, description });
    } catch {
      // ended below
    }
    this.armDestroy();
  }

  private endSoon(): void {
    this.guard.end();
    this.armDestroy();
  }

  private armDestroy(): void {
    if (this.destroyTimer || this.closed) return;
    this.destroyTimer = setTimeout(() => this.guard.destroy(), CLOSE_GRACE_MS);
    this.destroyTimer.unref();
  }

  /** Called by the adapter's sweep: idle and handshake timeouts. */
  sweep(now: number): void {
    if (this.closed) return;
    const s = this.rt.settings;
    if (!this.opened && now - this.createdAt > s.handshakeTimeoutMs) {
      this.log.info({}, 'AMQP connection closed: handshake timeout');
      this.fail(COND.resourceLimit, 'handshake not completed in time');
      return;
    }
    if (this.opened && s.idleTimeoutMs > 0 && now - this.lastActivity > s.idleTimeoutMs) {
      this.log.info({}, 'AMQP connection closed: idle timeout');
      this.fail(COND.resourceLimit, 'idle timeout exceeded');
    }
  }

  private cleanup(): void {
    if (this.closed) return;
    this.closed = true;
    this.closing = true;
    if (this.destroyTimer) clearTimeout(this.destroyTimer);
    this.destroyTimer = undefined;
    if (this.finTimer) clearTimeout(this.finTimer);
    this.links.disposeAll();
    for (const t of this.txns.values()) rollback(t, this);
    this.txns.clear();
    for (const q of this.tempQueues) this.quiet(this.rt.broker.deleteQueue(q));
    this.tempQueues.clear();
    if (!this.guard.socket.destroyed) this.guard.destroy();
    this.client.closed(this.closeReason ?? (this.inputEnded ? 'client ended the connection' : 'connection lost'));
    this.onClosed?.();
  }
}
