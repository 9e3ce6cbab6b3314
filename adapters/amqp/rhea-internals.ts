/**
 * Everything that reaches into rhea's internals (rhea 3.0.5: lib/connection.js, session.js,
 * link.js, transport.js, sasl.js, types.js), in one file so a rhea upgrade is checked here and
 * nowhere else. rhea's published typings cover the client API; the types below cover the
 * server-side internals (declared in rhea-types.ts, re-exported here), and RheaEngine applies the per-connection patches that make rhea a
 * safe server:
 *
 *  - performatives before open (or after close) are refused with amqp:illegal-state, and the
 *    connection's field checks run before rhea uses a performative;
 *  - transfers are taken over (session.incoming.on_transfer) to bound message size, refuse
 *    transfers without credit or beyond the session window, honour `aborted`, and hand the raw
 *    bytes to our own codec (rhea's decoder loses AMQP types);
 *  - dispositions for our deliveries are taken over (session.on_disposition) so transactional
 *    states reach us and ranges are walked over the deliveries that exist, not first..last; the
 *    peer's dispositions for its own deliveries have their range narrowed the same way before
 *    rhea walks it;
 *  - coordinator targets are recognised before rhea discards them (it knows only source/target);
 *  - frames are encoded straight into the FrameGuard's output buffer (one socket write per tick);
 *  - sasl-outcome carries the mechanism's additional-data.
 *
 * test/amqp/rhea-pin.test.ts fails when the installed rhea is not RHEA_CHECKED_VERSION; package.json
 * pins that exact version.
 */
import type { EventEmitter } from 'node:events';
import rhea from 'rhea';
import { AMQP_HEADER } from './frame-guard.js';
import type { RConnection, RDelivery, RFrame, RIncoming, RLink, RSession, RTyped } from './rhea-types.js';
import { AmqpConditionError, COND, describedCode, Outcome } from './states.js';

/** The rhea version whose internals this file was checked against. */
export const RHEA_CHECKED_VERSION = '3.0.5';

export type * from './rhea-types.js';

interface RSaslServer {
  mechanism?: { additionalData?: Buffer };
  transport: { encode(frame: { performative?: Record<string, unknown> }): void };
}

/**
 * rhea 3.0.5 writes sasl-outcome with the code only (lib/sasl.js SaslServer.do_step); this fills
 * in additional-data from the mechanism. `rc` is a connection right after accept().
 */
function addOutcomeData(rc: { sasl_transport?: unknown }): void {
  const st = rc.sasl_transport as (RSaslServer & { transports?: Record<number, RSaslServer> }) | undefined;
  const server = st?.transports?.[3] ?? st;
  if (!server?.transport) return;
  const t = server.transport;
  const encode = t.encode;
  t.encode = function (frame) {
    const p = frame.performative;
    const data = server.mechanism?.additionalData;
    if (p && data && 'additional_data' in p && p.code === 0) p.additional_data = data;
    encode.call(this, frame);
  };
}

// ---- the engine: one rhea container and connection per socket, patched ---------------------------

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

/** The FrameGuard as the engine writes to it (and rhea reads from it). */
export interface EngineOutput {
  write(buf: Buffer): boolean;
  reserve(n: number): void;
  readonly output: { buf: Buffer; pos: number };
  adopt(buf: Buffer, pos: number): void;
}

/** What the connection decides; the engine does the rhea side. Hooks run inside rhea's processing. */
export interface EngineHooks {
  /** Our close is under way: frames still in flight from the peer are ignored. */
  closing(): boolean;
  error(err: unknown): void;
  /** Mandatory-field checks (throw an AmqpConditionError) before rhea reads a performative. */
  checkFields(name: string, frame: RFrame): void;
  /** A link is detached with an error (transfer without credit, message too large). */
  linkError(link: RLink, condition: string, description: string): void;
  /** A complete transfer on `receiver`; false when nobody takes it (it is settled at once). */
  transfer(receiver: RLink, d: RDelivery, bytes: Buffer, state: unknown): boolean;
  /** The peer's disposition of one of our deliveries; false when no handler takes it. */
  outcome(d: RDelivery, state: unknown, settled: boolean): boolean;
  /** After each processing pass (sent bytes already freed). */
  afterProcess(): void;
}

export interface EngineOptions {
  containerId: string;
  connectionId: string;
  maxFrameSize: number;
  maxSessions: number;
  maxLinksPerSession: number;
  maxMessageSize: number;
  idleTimeoutMs: number;
  sessionWindow: number;
  mechanisms: Record<string, () => unknown>;
}

let unwrap: ((v: unknown) => unknown) | undefined;
const NO_DATA: Buffer[] = [];

function isNum(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0;
}

/** One patched rhea connection over `io`; `coordinatorCaps()` is valid inside the link-open event. */
export class RheaEngine {
  readonly rc: RConnection;
  private coordinator: string[] | null = null;
  private readonly sessions = new Set<RSession>();

  constructor(io: EngineOutput & EventEmitter, readonly opts: EngineOptions, readonly hooks: EngineHooks) {
    const container = (rhea as unknown as { create_container(o: Record<string, unknown>): Container }).create_container({
      id: opts.containerId,
      treat_modified_as_released: false,
      autoaccept: false,
      credit_window: 0,
      reconnect: false,
    });
    container.sasl_server_mechanisms = opts.mechanisms;
    container.on('error', (e) => hooks.error(e));
    this.rc = container.create_connection({
      id: opts.connectionId,
      container_id: opts.containerId,
      max_frame_size: opts.maxFrameSize,
      channel_max: opts.maxSessions - 1,
      idle_time_out: opts.idleTimeoutMs > 0 ? opts.idleTimeoutMs : undefined,
      offered_capabilities: ['ANONYMOUS-RELAY', 'SHARED-SUBS'],
      properties: { product: 'junction', 'max-message-size': opts.maxMessageSize },
      session_buffer_size: opts.sessionWindow,
      reconnect: false,
    });
    this.patchConnection();
    this.patchTransport(io);
  }

  /** Starts reading (after the connection's listeners are in place). */
  accept(io: unknown): void {
    this.rc.accept(io);
    addOutcomeData(this.rc as unknown as { sasl_transport?: unknown });
  }

  /** The coordinator capabilities of the attach being processed (null: not a coordinator). */
  get coordinatorCaps(): string[] | null {
    return this.coordinator;
  }

  /** Sessions begun and not yet ended (tracked for freeing sent bytes). */
  sessionOpened(s: RSession): void {
    this.sessions.add(s);
  }

  sessionEnded(s: RSession): void {
    this.sessions.delete(s);
  }

  /** Asks rhea for a processing pass (writes what is pending). */
  schedule(): void {
    this.rc._register();
  }

  /** Processes now (writes our close before the socket ends). */
  processNow(): void {
    this.rc._process();
  }

  /** True once a pass is scheduled. */
  get scheduled(): boolean {
    return this.rc.registered;
  }

  /** Closes the connection (opening ours first if the peer has not seen it) and writes it now. */
  closeNow(error?: { condition: string; description: string }, openFirst = false): void {
    const rc = this.rc;
    if (openFirst && !rc.state.local_open && rc.state.close_requests === 0) rc.open();
    rc.close(error);
    rc._process();
  }

  /** True when our close can still be written (open, peer has not closed, ours not out). */
  get canCloseQuietly(): boolean {
    return !this.rc.remote.close && this.rc.state.close_requests === 0;
  }

  /** Keeps our attach reply for `link` back; false when it was already written. */
  static holdAttach(link: RLink): boolean {
    if (link.state.open_requests <= 0) return false;
    link.state.open_requests--;
    return true;
  }

  /** Lets a held attach reply go out. */
  releaseAttach(link: RLink): void {
    link.state.open_requests++;
    this.rc._register();
  }

  /** True while our attach reply for `link` is not written yet. */
  static attachPending(link: RLink): boolean {
    return link.state.open_requests > 0;
  }

  /** Sends a flow for `link` on the next pass. */
  flow(link: RLink): void {
    link.issue_flow = true;
    this.rc._register();
  }

  /** rhea's hook while writing a sender's flow: `fn` true sets drain (its credit consumed by then). */
  static onDrainWrite(link: RLink, fn: () => boolean): void {
    link._get_drain = fn;
  }

  /** The peer's last flow asked for drain. */
  static peerDraining(link: RLink): boolean {
    return link._draining === true;
  }

  /** Room for another outgoing delivery in the session window. */
  static sessionRoom(link: RLink): number {
    return link.session.outgoing.deliveries.available();
  }

  private patchConnection(): void {
    const rc = this.rc;
    const self = this;
    for (const name of ['begin', 'end', 'attach', 'detach', 'transfer', 'disposition', 'flow']) {
      const orig = rc[`on_${name}`] as (frame: RFrame) => void;
      rc[`on_${name}`] = function (this: RConnection, frame: RFrame) {
        const closing = self.hooks.closing();
        if (!this.state.remote_open || closing) {
          if (closing) return; // after our close, peers may still have frames in flight
          throw new AmqpConditionError(COND.illegalState, `${name} before open`);
        }
        self.hooks.checkFields(name, frame);
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
        self.freeSent();
        self.hooks.afterProcess();
      } catch (err) {
        self.hooks.error(err);
      }
    };
  }

  /**
   * rhea encodes each frame into a fresh zero-filled 1 KiB buffer and writes it to the socket on
   * its own; here frames are encoded straight into the FrameGuard's buffer for this tick, which
   * goes to the socket as one write.
   */
  private patchTransport(guard: EngineOutput): void {
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

  private patchSession(session: RSession): void {
    const self = this;
    const maxHandle = this.opts.maxLinksPerSession - 1;
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
        unwrap ??= (rhea.types as unknown as { unwrap(v: unknown): unknown }).unwrap;
        const caps = Array.isArray(capsRaw) && capsRaw[0] ? unwrap(capsRaw[0]) : [];
        coordinator = (Array.isArray(caps) ? caps : [caps]).filter((c): c is string => typeof c === 'string');
        p.value[6] = null;
      }
      self.coordinator = coordinator;
      try {
        origAttach.call(this, frame);
      } finally {
        self.coordinator = null;
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
      if (receiver.is_itself_closed() || this.hooks.closing()) {
        d.dropped = true;
      } else if (receiver.credit <= 0) {
        d.dropped = true;
        this.hooks.linkError(receiver, COND.transferLimit, 'transfer without link credit');
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
      if (current.size! > this.opts.maxMessageSize) {
        current.dropped = true;
        current.frames = undefined;
        this.hooks.linkError(receiver, COND.messageSize, `message exceeds ${this.opts.maxMessageSize} bytes`);
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
    if (!this.hooks.transfer(receiver, current, bytes, current.remote_state)) current.settled = true;
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
      if (!this.hooks.outcome(d, state, settled) && settled) {
        d.remote_settled = true;
        d.settled = true;
      }
    }
  }

  /** rhea keeps a delivery's bytes until it is settled; nothing reads them once transferred. */
  private freeSent(): void {
    for (const session of this.sessions) {
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
  }
}
