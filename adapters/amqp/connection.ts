/**
 * One AMQP connection: rhea's engine (a per-connection container, server mode) fed through the
 * FrameGuard, with the handful of per-instance patches that make rhea a safe server:
 *
 *  - performatives before open (or after close) are refused with amqp:illegal-state, and attach /
 *    transfer / flow / disposition fields are checked before rhea uses them;
 *  - transfers are taken over (session.incoming.on_transfer) to bound message size, refuse
 *    transfers without credit or beyond the session window, honour `aborted`, and hand the raw
 *    bytes to our own codec (rhea's decoder loses AMQP types);
 *  - dispositions for our deliveries are taken over (session.on_disposition) so transactional
 *    states reach us and ranges are walked over the deliveries that exist, not first..last; the
 *    peer's dispositions for its own deliveries have their range narrowed the same way before
 *    rhea walks it;
 *  - coordinator targets are recognised before rhea discards them (it knows only source/target);
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
import rhea from 'rhea';
import type { AuthAction, Logger, Principal } from '../../core/adapter.js';
import type { Consumer } from '../../core/queue-consumer.js';
import type { Transaction } from '../../core/transaction.js';
import { Coordinator, rollback } from './coordinator.js';
import { AMQP_HEADER, FrameGuard, type Violation } from './frame-guard.js';
import { IncomingLink } from './incoming-link.js';
import { capabilitiesOf, type IncomingHandler, type LinkHandler } from './link-handler.js';
import { OutgoingLink, applyOutcome } from './outgoing-link.js';
import { addOutcomeData, type RConnection, type RDelivery, type RFrame, type RIncoming, type RLink, type RSession, type RTyped } from './rhea-internals.js';
import type { AmqpRuntime } from './runtime.js';
import type { ClientConnection } from '../../core/connection-registry.js';
import { serverMechanisms } from './sasl.js';
import { AmqpConditionError, COND, describedCode, Outcome, type AmqpErrorFields, type ParsedOutcome } from './states.js';

export interface TxnState {
  id: Buffer;
  txn: Transaction;
  /** Deliveries acked/nacked in the transaction (settled for the client): released on rollback. */
  settledAcks: Array<{ consumer: Consumer; tag: number }>;
}

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
const NO_DATA: Buffer[] = [];

/** rhea's types.Writer (lib/types.js). */
interface RWriter {
  buffer: Buffer;
  position: number;
  skip(n: number): void;
  write_uint(v: number, width: number): void;
  write(o: unknown): void;
  write_bytes(b: Buffer): void;
}

type Container = {
  sasl_server_mechanisms: Record<string, () => unknown>;
  create_connection(options: Record<string, unknown>): RConnection;
  on(event: string, fn: (...args: unknown[]) => void): void;
};

function isNum(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0;
}

export class AmqpConnection {
  readonly num = nextConnection++;
  /** Owner id for exclusive queues and no-local subscriptions. */
  readonly id = `amqp:${this.num}`;
  readonly log: Logger;
  readonly rc: RConnection;
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
  private linkCount = 0;
  private readonly sessions = new Map<RSession, Set<LinkHandler>>();
  private readonly handlers = new WeakMap<RLink, LinkHandler>();
  private readonly outgoing = new Set<OutgoingLink>();
  private readonly drains = new Set<OutgoingLink>();
  private readonly flushes = new Set<OutgoingLink>();
  private readonly attachWaits: Array<{ link: RLink; fn: () => void }> = [];
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

    const container = (rhea as unknown as { create_container(o: Record<string, unknown>): Container }).create_container({
      id: s.containerId,
      treat_modified_as_released: false,
      autoaccept: false,
      credit_window: 0,
      reconnect: false,
    });
    const peer = { protocol: 'amqp', remote: socket.remoteAddress, tls: socket instanceof TLSSocket ? socket : null };
    container.sasl_server_mechanisms = serverMechanisms(rt.sasl, peer, {
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
    container.on('error', (e) => this.onError(e));
    this.rc = container.create_connection({
      id: this.id,
      container_id: s.containerId,
      max_frame_size: s.maxFrameSize,
      channel_max: s.maxSessions - 1,
      idle_time_out: s.idleTimeoutMs > 0 ? s.idleTimeoutMs : undefined,
      offered_capabilities: ['ANONYMOUS-RELAY', 'SHARED-SUBS'],
      properties: { product: 'junction', 'max-message-size': s.maxMessageSize },
      session_buffer_size: s.sessionWindow,
      reconnect: false,
    });
    this.patchConnection();
    this.patchTransport();
    this.listen();
    this.rc.accept(this.guard);
    addOutcomeData(this.rc as unknown as { sasl_transport?: unknown });
  }

  // ---- rhea patches ---------------------------------------------------------------------------

  private patchConnection(): void {
    const rc = this.rc;
    const self = this;
    for (const name of ['begin', 'end', 'attach', 'detach', 'transfer', 'disposition', 'flow']) {
      const orig = rc[`on_${name}`] as (frame: RFrame) => void;
      rc[`on_${name}`] = function (this: RConnection, frame: RFrame) {
        if (!this.state.remote_open || self.closing) {
          if (self.closing) return; // after our close, peers may still have frames in flight
          throw new AmqpConditionError(COND.illegalState, `${name} before open`);
        }
        self.checkFields(name, frame);
        if (name !== 'begin') {
          const session = this.remote_channel_map[frame.channel];
          if (!session) throw new AmqpConditionError(COND.illegalState, `${name} on channel ${frame.channel}, which has no session`);
          const handle = frame.performative.handle;
          if ((name === 'transfer' || name === 'detach' || (name === 'flow' && handle !== undefined && handle !== null))
            && !session.remote.handles[handle as number]) {
            throw new AmqpConditionError(COND.unattachedHandle, `${name} on handle ${String(handle)}, which is not attached`);
          }
        }
        orig.call(this, frame);
      };
    }
    const origCreate = rc.create_session as (buf?: unknown) => RSession;
    rc.create_session = function (this: RConnection, buf?: unknown) {
      const session = origCreate.call(this, buf);
      self.patchSession(session);
      return session;
    };
    const origProcess = rc._process;
    rc._process = function (this: RConnection) {
      try {
        origProcess.call(this);
        self.afterProcess();
      } catch (err) {
        self.onError(err);
      }
    };
  }

  /**
   * rhea encodes each frame into a fresh zero-filled 1 KiB buffer and writes it to the socket on
   * its own; here frames are encoded straight into the FrameGuard's buffer for this tick, which
   * goes to the socket as one write.
   */
  private patchTransport(): void {
    const guard = this.guard;
    const t = this.rc.amqp_transport as {
      header_sent?: unknown;
      pending: Array<{ channel: number; type: number; performative?: unknown; payload?: Buffer }>;
      write(socket: unknown): void;
    };
    const Writer = (rhea.types as unknown as { Writer: new (b: Buffer) => RWriter }).Writer;
    t.write = function () {
      if (!this.header_sent) {
        guard.write(AMQP_HEADER);
        this.header_sent = { protocol_id: 0, major: 1, minor: 0, revision: 0 };
      }
      if (this.pending.length === 0) return;
      guard.reserve(64);
      const { buf, pos } = guard.output;
      const w = new Writer(buf);
      w.position = pos;
      for (const frame of this.pending) {
        const start = w.position;
        w.skip(4);
        w.write_uint(2, 1);
        w.write_uint(frame.type, 1);
        w.write_uint(frame.channel, 2);
        if (frame.performative) {
          w.write(frame.performative);
          if (frame.payload) w.write_bytes(frame.payload);
        }
        w.buffer.writeUInt32BE(w.position - start, start);
      }
      this.pending = [];
      guard.adopt(w.buffer, w.position);
    };
  }

  /** Mandatory fields rhea would otherwise trust. */
  private checkFields(name: string, frame: RFrame): void {
    const p = frame.performative;
    const bad = (field: string) => new AmqpConditionError(COND.decodeError, `${name}: missing or invalid ${field}`);
    switch (name) {
      case 'attach':
        if (typeof p.name !== 'string' || p.name.length === 0 || p.name.length > 4096) throw bad('name');
        if (!isNum(p.handle)) throw bad('handle');
        if (typeof p.role !== 'boolean') throw bad('role');
        break;
      case 'detach':
        if (!isNum(p.handle)) throw bad('handle');
        break;
      case 'transfer':
        if (!isNum(p.handle)) throw bad('handle');
        break;
      case 'flow':
        if (!isNum(p.next_outgoing_id) || !isNum(p.incoming_window) || !isNum(p.outgoing_window)) throw bad('window');
        if (p.handle !== undefined && p.handle !== null && !isNum(p.handle)) throw bad('handle');
        if (p.handle !== undefined && p.handle !== null) {
          if (!isNum(p.link_credit ?? 0) || !isNum(p.delivery_count ?? 0)) throw bad('link credit');
          // A receiver that has not seen our attach yet leaves delivery-count out: it is our initial one (0).
          if (p.delivery_count === undefined || p.delivery_count === null) p.delivery_count = 0;
          if (p.link_credit === undefined || p.link_credit === null) p.link_credit = 0;
        }
        break;
      case 'disposition':
        if (!isNum(p.first) || (p.last !== undefined && p.last !== null && !isNum(p.last)) || typeof p.role !== 'boolean') throw bad('range');
        break;
      case 'begin':
        if (!isNum(p.next_outgoing_id) || !isNum(p.incoming_window) || !isNum(p.outgoing_window)) throw bad('window');
        break;
      default:
        break;
    }
  }

  private patchSession(session: RSession): void {
    const self = this;
    const maxHandle = this.rt.settings.maxLinksPerSession - 1;
    session.local.begin.handle_max = maxHandle;

    const origAttach = session.on_attach;
    session.on_attach = function (this: RSession, frame: RFrame) {
      const p = frame.performative;
      const handle = p.handle as number;
      if (handle > maxHandle) throw new AmqpConditionError(COND.framingError, `handle ${handle} exceeds handle-max ${maxHandle}`);
      // A handle or name may be reused once the peer detached it; rhea removes detached links a
      // couple of ticks later (and would then remove the new link's entries): do it now.
      for (const old of [this.remote.handles[handle], this.links[p.name as string]]) {
        if (!old) continue;
        if (old.state.remote_open) {
          throw new AmqpConditionError(old === this.remote.handles[handle] ? COND.handleInUse : COND.illegalState, `link handle ${handle} or name is in use`);
        }
        self.retire(old);
      }
      // rhea only knows source and target termini: take a coordinator target out before it looks.
      const role = p.role as boolean;
      const rawTarget = p.value[6];
      let coordinator: string[] | null = null;
      if (role === false && describedCode(rawTarget) === Outcome.Coordinator) {
        const capsRaw = (rawTarget as RTyped).value;
        const caps = Array.isArray(capsRaw) && capsRaw[0] ? (rhea.types as unknown as { unwrap(v: unknown): unknown }).unwrap(capsRaw[0]) : [];
        coordinator = (Array.isArray(caps) ? caps : [caps]).filter((c): c is string => typeof c === 'string');
        p.value[6] = null;
      }
      self.pendingCoordinator = coordinator;
      try {
        origAttach.call(this, frame);
      } finally {
        self.pendingCoordinator = null;
      }
    };

    const origDisposition = session.on_disposition;
    session.on_disposition = function (this: RSession, frame: RFrame) {
      const p = frame.performative;
      if (p.role !== true) {
        // rhea walks first..last one id at a time (2^32 steps for a hostile range): narrow the
        // range to the deliveries this session holds before it does.
        const held = this.incoming.deliveries;
        const head = held.get_head();
        if (!head) return;
        const from = Math.max(p.first as number, head.id);
        const to = Math.min((p.last ?? p.first) as number, head.id + held.size - 1);
        if (from > to) return;
        p.first = from;
        p.last = to;
        origDisposition.call(this, frame);
        return;
      }
      self.onDisposition(this, p.first as number, (p.last ?? p.first) as number, p.settled === true, p.value[4]);
      this.connection._register();
    };

    session.incoming.on_transfer = function (this: RIncoming, frame: RFrame, receiver: RLink) {
      self.onTransfer(this, frame, receiver);
    };
  }

  private pendingCoordinator: string[] | null = null;

  /** Removes a link the peer has detached right away (our detach written first). */
  private retire(old: RLink): void {
    if (old.state.close_requests > 0 || old.state.open_requests > 0) this.rc._process();
    const session = old.session;
    if (session.remote.handles[old.remote.handle as number] === old) delete session.remote.handles[old.remote.handle as number];
    if (session.local.handles[old.local.handle] === old) delete session.local.handles[old.local.handle];
    if (session.links[old.name] === old) delete session.links[old.name];
    (old as unknown as { remove(): void }).remove = () => undefined;
  }

  /** rhea's Incoming.on_transfer, bounded and raw. */
  private onTransfer(incoming: RIncoming, frame: RFrame, receiver: RLink): void {
    const p = frame.performative;
    incoming.next_transfer_id++;
    if (!receiver.is_receiver()) throw new AmqpConditionError(COND.illegalState, 'transfer on a link the peer receives on');
    if (!receiver.is_remote_open()) throw new AmqpConditionError(COND.illegalState, 'transfer on a detached link');
    const deliveryId = p.delivery_id as number | null | undefined;
    let current = receiver._incomplete;
    if (current) {
      if (deliveryId !== undefined && deliveryId !== null && deliveryId !== current.id) {
        throw new AmqpConditionError(COND.illegalState, `delivery ${current.id} not complete, got ${deliveryId}`);
      }
    } else {
      if (!isNum(deliveryId)) throw new AmqpConditionError(COND.decodeError, 'transfer without a delivery-id');
      if (incoming.next_delivery_id === undefined) incoming.next_delivery_id = deliveryId;
      else if (deliveryId !== incoming.next_delivery_id) throw new AmqpConditionError(COND.illegalState, `delivery-id ${deliveryId} out of sequence`);
      if (incoming.deliveries.available() <= 0) throw new AmqpConditionError(COND.windowViolation, 'transfer beyond the incoming window');
      const d: RDelivery = {
        id: deliveryId,
        tag: p.delivery_tag as Buffer,
        format: (p.message_format as number | undefined) ?? 0,
        link: receiver,
        settled: false,
        remote_settled: p.settled === true,
        remote_state: undefined,
        frames: [],
        size: 0,
        dropped: false,
        update: (settled, state) => incoming.update(d, settled === undefined ? true : settled, state),
      };
      current = d;
      incoming.deliveries.push(d);
      incoming.next_delivery_id = (deliveryId + 1) >>> 0;
      if (receiver.is_itself_closed() || this.closing) {
        d.dropped = true;
      } else if (receiver.credit <= 0) {
        d.dropped = true;
        this.closeLink(receiver, { condition: COND.transferLimit, description: 'transfer without link credit' });
      } else {
        receiver.credit--;
        receiver.delivery_count++;
      }
    }
    const state = p.value[7];
    if (state !== undefined && state !== null) current.remote_state = state;
    if (p.aborted === true) {
      receiver._incomplete = undefined;
      current.frames = undefined;
      current.settled = true;
      current.remote_settled = true;
      this.rc._register();
      return;
    }
    if (!current.dropped && frame.payload) {
      current.size! += frame.payload.length;
      if (current.size! > this.rt.settings.maxMessageSize) {
        current.dropped = true;
        current.frames = undefined;
        this.closeLink(receiver, { condition: COND.messageSize, description: `message exceeds ${this.rt.settings.maxMessageSize} bytes` });
      } else {
        current.frames!.push(frame.payload);
      }
    }
    if (p.more === true) {
      receiver._incomplete = current;
      return;
    }
    receiver._incomplete = undefined;
    if (current.dropped) {
      current.settled = true;
      current.frames = undefined;
      this.rc._register();
      return;
    }
    const frames = current.frames!;
    current.frames = undefined;
    const bytes = frames.length === 1 ? frames[0] : Buffer.concat(frames);
    const h = this.handlers.get(receiver) as IncomingHandler | undefined;
    if (!h) {
      current.settled = true;
      return;
    }
    this.incomingPending++;
    h.transfer(current, bytes, current.remote_state);
  }

  /** A disposition from the peer (as receiver) for deliveries we sent: walk those that exist. */
  private onDisposition(session: RSession, first: number, last: number, settled: boolean, state: unknown): void {
    const buf = session.outgoing.deliveries;
    const head = buf.get_head();
    if (!head) return;
    const from = Math.max(first, head.id);
    const to = Math.min(last, head.id + buf.size - 1);
    for (let id = from; id <= to; id++) {
      const d = buf.by_id(id);
      if (!d || d.remote_settled) continue;
      const h = this.handlers.get(d.link);
      if (h instanceof OutgoingLink) {
        h.outcome(d, state, settled);
      } else if (settled) {
        d.remote_settled = true;
        d.settled = true;
      }
    }
  }

  /** After each rhea processing pass: free sent bytes, flush links that waited for room, finish drains. */
  private afterProcess(): void {
    // rhea keeps a delivery's bytes until it is settled; nothing reads them once transferred.
    for (const session of this.sessions.keys()) {
      const out = session.outgoing;
      const head = out.deliveries.get_head();
      const s = session as RSession & { freedUpTo?: number };
      if (!head) {
        s.freedUpTo = out.next_pending_delivery;
        continue;
      }
      const end = out.next_pending_delivery;
      for (let id = Math.max(s.freedUpTo ?? 0, head.id); id < end; id++) {
        const d = out.deliveries.by_id(id);
        if (d) d.data = NO_DATA;
      }
      s.freedUpTo = end;
    }
    if (this.flushes.size > 0) {
      for (const l of [...this.flushes]) {
        this.flushes.delete(l);
        l.flush();
      }
    }
    if (this.drains.size > 0) {
      for (const l of this.drains) {
        if (l.drainReady()) {
          l.link.issue_flow = true;
          this.rc._register();
        }
      }
    }
    if (this.attachWaits.length > 0) {
      const waiting = this.attachWaits.splice(0);
      for (const w of waiting) {
        if (w.link.state.open_requests > 0) this.attachWaits.push(w);
        else setImmediate(w.fn);
      }
    }
  }

  // ---- events ---------------------------------------------------------------------------------

  private listen(): void {
    const rc = this.rc;
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
    rc.on('session_open', safe((ctx) => this.onSessionOpen(ctx.session as RSession)));
    rc.on('session_close', safe((ctx) => this.onSessionEnd(ctx.session as RSession)));
    rc.on('session_error', () => undefined);
    rc.on('receiver_open', safe((ctx) => this.onLinkAttach(ctx.receiver as RLink)));
    rc.on('sender_open', safe((ctx) => this.onLinkAttach(ctx.sender as RLink)));
    rc.on('receiver_close', safe((ctx) => this.onLinkDetach(ctx.receiver as RLink)));
    rc.on('sender_close', safe((ctx) => this.onLinkDetach(ctx.sender as RLink)));
    rc.on('receiver_error', () => undefined);
    rc.on('sender_error', () => undefined);
    rc.on('sender_flow', safe((ctx) => (this.handlers.get(ctx.sender as RLink) as OutgoingLink | undefined)?.onFlow()));
    rc.on('sender_draining', safe((ctx) => (this.handlers.get(ctx.sender as RLink) as OutgoingLink | undefined)?.drain()));
    rc.on('sendable', safe((ctx) => {
      const h = this.handlers.get(ctx.sender as RLink);
      if (h instanceof OutgoingLink) h.flush();
    }));
    rc.on('receiver_flow', () => undefined);
    rc.on('settled', () => undefined);
    rc.on('message', () => undefined);
  }

  private onOpen(): void {
    const remote = this.rc.remote.open!;
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
    this.opened = true;
    this.client.identify(this.remoteContainerId || null, this.principal.anonymous ? null : this.principal.user);
    this.log.debug({ container: this.remoteContainerId, user: this.principal.user }, 'AMQP connection open');
  }

  private onSessionOpen(session: RSession): void {
    this.sessions.set(session, new Set());
    if (this.sessions.size > this.rt.settings.maxSessions) {
      session.end({ condition: COND.resourceLimit, description: `more than ${this.rt.settings.maxSessions} sessions` });
    }
  }

  private onSessionEnd(session: RSession): void {
    const links = this.sessions.get(session);
    this.sessions.delete(session);
    if (links) for (const h of [...links]) h.dispose();
  }

  private onLinkAttach(link: RLink): void {
    const coordinator = this.pendingCoordinator;
    const s = this.rt.settings;
    const links = this.sessions.get(link.session);
    if (!links || this.closing) {
      this.refuse(link, COND.illegalState, 'session is ending');
      return;
    }
    if (this.linkCount >= s.maxLinksPerConnection) {
      this.refuse(link, COND.resourceLimit, `more than ${s.maxLinksPerConnection} links`);
      return;
    }
    let h: LinkHandler;
    if (link.is_receiver()) h = coordinator ? new Coordinator(this, link, coordinator) : new IncomingLink(this, link);
    else h = new OutgoingLink(this, link);
    if (link.is_itself_closed()) return; // refused
    this.linkCount++;
    this.handlers.set(link, h);
    links.add(h);
    if (h instanceof OutgoingLink) this.outgoing.add(h);
  }

  private onLinkDetach(link: RLink): void {
    this.releaseAttach(link); // our attach reply goes before our detach
    const h = this.handlers.get(link);
    const closed = link.remote.detach?.closed === true;
    if (h) h.detached(closed);
    else if (closed) link.close();
    else link.detach();
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

  private readonly held = new Set<RLink>();
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

  /** Keeps our attach reply back while the core sets the node up (a subscription exists once answered). */
  holdAttach(link: RLink): void {
    if (link.state.open_requests > 0) {
      link.state.open_requests--;
      this.held.add(link);
    }
  }

  /** Lets a held attach reply go out. */
  releaseAttach(link: RLink): void {
    if (!this.held.delete(link)) return;
    link.state.open_requests++;
    this.rc._register();
  }

  /** Refuses an attach: the reply carries a null terminus, then a detach with the error. */
  refuse(link: RLink, condition: string, description: string): void {
    this.releaseAttach(link);
    if (link.is_sender()) link.local.attach.source = null as never;
    else link.local.attach.target = null as never;
    link.close({ condition, description });
    this.log.debug({ link: link.name, condition, description }, 'AMQP link refused');
  }

  /** Detaches a link with an error (after its attach). */
  closeLink(link: RLink, error: AmqpErrorFields): void {
    if (this.held.has(link)) {
      // Never answered: refuse it (null terminus in the attach reply, then the detach).
      this.handlers.get(link)?.dispose();
      this.refuse(link, error.condition, error.description ?? '');
      return;
    }
    const h = this.handlers.get(link);
    h?.dispose();
    if (!link.is_itself_closed()) link.close(error);
    this.log.debug({ link: link.name, ...error }, 'AMQP link closed by the broker');
  }

  linkGone(h: LinkHandler): void {
    const links = this.sessions.get(h.link.session);
    if (links?.delete(h)) this.linkCount--;
    if (h instanceof OutgoingLink) {
      this.outgoing.delete(h);
      this.flushes.delete(h);
    }
    this.handlers.delete(h.link);
  }

  /** Runs `fn` once our attach reply for `link` has been written. */
  whenAttached(link: RLink, fn: () => void): void {
    const safe = () => {
      try {
        fn();
      } catch (err) {
        this.onError(err);
      }
    };
    if (link.state.open_requests === 0 && !this.rc.registered) {
      setImmediate(safe);
      return;
    }
    this.attachWaits.push({ link, fn: safe });
    this.rc._register();
  }

  watchDrain(l: OutgoingLink): void {
    this.drains.add(l);
  }

  unwatchDrain(l: OutgoingLink): void {
    this.drains.delete(l);
  }

  needsFlush(l: OutgoingLink): void {
    this.flushes.add(l);
    this.rc._register();
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
    for (const o of this.outgoing) {
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
    if (this.opened && !this.rc.remote.close && this.rc.state.close_requests === 0) {
      try {
        this.rc.close();
        this.rc._process();
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
        const rc = this.rc;
        if (!rc.state.local_open && rc.state.close_requests === 0) rc.open();
        rc.close({ condition, description });
        rc._process();
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
      this.rc.close({ condition, description });
      this.rc._process();
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
    for (const links of this.sessions.values()) for (const h of [...links]) h.dispose();
    this.sessions.clear();
    for (const t of this.txns.values()) rollback(t, this);
    this.txns.clear();
    for (const q of this.tempQueues) this.quiet(this.rt.broker.deleteQueue(q));
    this.tempQueues.clear();
    if (!this.guard.socket.destroyed) this.guard.destroy();
    this.client.closed(this.closeReason ?? (this.inputEnded ? 'client ended the connection' : 'connection lost'));
    this.onClosed?.();
  }
}
