/**
 * The links of one AMQP connection: which session holds which handler, the attach replies held
 * back while the core sets a node up, and the links waiting for room (flush), for a drain to
 * complete, or for their attach reply to be written. Limits: links per connection (links per
 * session is rhea's handle-max, see rhea-internals.ts).
 */
import type { Logger } from '../../core/adapter.js';
import { Coordinator } from './coordinator.js';
import { IncomingLink } from './incoming-link.js';
import type { LinkContext } from './link-context.js';
import type { IncomingHandler, LinkHandler } from './link-handler.js';
import { OutgoingLink } from './outgoing-link.js';
import { RheaEngine, type RDelivery, type RLink, type RSession } from './rhea-internals.js';
import { COND, type AmqpErrorFields } from './states.js';

export interface LinkOwner {
  readonly log: Logger;
  readonly engine: RheaEngine;
  /** The connection is closing: no new links. */
  closing(): boolean;
  error(err: unknown): void;
}

export class LinkTable {
  private count = 0;
  private readonly sessions = new Map<RSession, Set<LinkHandler>>();
  private readonly handlers = new WeakMap<RLink, LinkHandler>();
  readonly outgoing = new Set<OutgoingLink>();
  private readonly drains = new Set<OutgoingLink>();
  private readonly flushes = new Set<OutgoingLink>();
  private readonly attachWaits: Array<{ link: RLink; fn: () => void }> = [];
  private readonly held = new Set<RLink>();

  constructor(private readonly owner: LinkOwner, private readonly ctx: LinkContext, private readonly maxLinks: number, private readonly maxSessions: number) {}

  sessionOpened(session: RSession): void {
    this.sessions.set(session, new Set());
    this.owner.engine.sessionOpened(session);
    if (this.sessions.size > this.maxSessions) {
      session.end({ condition: COND.resourceLimit, description: `more than ${this.maxSessions} sessions` });
    }
  }

  sessionEnded(session: RSession): void {
    const links = this.sessions.get(session);
    this.sessions.delete(session);
    this.owner.engine.sessionEnded(session);
    if (links) for (const h of [...links]) h.dispose();
  }

  /** The peer attached: a producer, consumer or coordinator handler takes the link (or refuses it). */
  attached(link: RLink): void {
    const coordinator = this.owner.engine.coordinatorCaps;
    const links = this.sessions.get(link.session);
    if (!links || this.owner.closing()) {
      this.refuse(link, COND.illegalState, 'session is ending');
      return;
    }
    if (this.count >= this.maxLinks) {
      this.refuse(link, COND.resourceLimit, `more than ${this.maxLinks} links`);
      return;
    }
    let h: LinkHandler;
    if (link.is_receiver()) h = coordinator ? new Coordinator(this.ctx, link, coordinator) : new IncomingLink(this.ctx, link);
    else h = new OutgoingLink(this.ctx, link);
    if (link.is_itself_closed()) return; // refused
    this.count++;
    this.handlers.set(link, h);
    links.add(h);
    if (h instanceof OutgoingLink) this.outgoing.add(h);
  }

  detached(link: RLink): void {
    this.releaseAttach(link); // our attach reply goes before our detach
    const h = this.handlers.get(link);
    const closed = link.remote.detach?.closed === true;
    if (h) h.detached(closed);
    else if (closed) link.close();
    else link.detach();
  }

  /** The handler of a link the peer sends on, if it has one. */
  incoming(link: RLink): IncomingHandler | undefined {
    return this.handlers.get(link) as IncomingHandler | undefined;
  }

  /** The handler of a link we send on, if it has one. */
  sender(link: RLink): OutgoingLink | undefined {
    const h = this.handlers.get(link);
    return h instanceof OutgoingLink ? h : undefined;
  }

  /** The peer's disposition of one of our deliveries; false when no consumer link takes it. */
  outcome(d: RDelivery, state: unknown, settled: boolean): boolean {
    const h = this.sender(d.link);
    if (!h) return false;
    h.outcome(d, state, settled);
    return true;
  }

  /** Keeps our attach reply back while the core sets the node up (a subscription exists once answered). */
  holdAttach(link: RLink): void {
    if (RheaEngine.holdAttach(link)) this.held.add(link);
  }

  /** Lets a held attach reply go out. */
  releaseAttach(link: RLink): void {
    if (this.held.delete(link)) this.owner.engine.releaseAttach(link);
  }

  /** Refuses an attach: the reply carries a null terminus, then a detach with the error. */
  refuse(link: RLink, condition: string, description: string): void {
    this.releaseAttach(link);
    if (link.is_sender()) link.local.attach.source = null as never;
    else link.local.attach.target = null as never;
    link.close({ condition, description });
    this.owner.log.debug({ link: link.name, condition, description }, 'AMQP link refused');
  }

  /** Detaches a link with an error (after its attach). */
  closeLink(link: RLink, error: AmqpErrorFields): void {
    if (this.held.has(link)) {
      // Never answered: refuse it (null terminus in the attach reply, then the detach).
      this.handlers.get(link)?.dispose();
      this.refuse(link, error.condition, error.description ?? '');
      return;
    }
    this.handlers.get(link)?.dispose();
    if (!link.is_itself_closed()) link.close(error);
    this.owner.log.debug({ link: link.name, ...error }, 'AMQP link closed by the broker');
  }

  linkGone(h: LinkHandler): void {
    const links = this.sessions.get(h.link.session);
    if (links?.delete(h)) this.count--;
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
        this.owner.error(err);
      }
    };
    if (!RheaEngine.attachPending(link) && !this.owner.engine.scheduled) {
      setImmediate(safe);
      return;
    }
    this.attachWaits.push({ link, fn: safe });
    this.owner.engine.schedule();
  }

  watchDrain(l: OutgoingLink): void {
    this.drains.add(l);
  }

  unwatchDrain(l: OutgoingLink): void {
    this.drains.delete(l);
  }

  needsFlush(l: OutgoingLink): void {
    this.flushes.add(l);
    this.owner.engine.schedule();
  }

  /** After each rhea processing pass: flush links that waited for room, finish drains, run attach waits. */
  afterProcess(): void {
    if (this.flushes.size > 0) {
      for (const l of [...this.flushes]) {
        this.flushes.delete(l);
        l.flush();
      }
    }
    if (this.drains.size > 0) {
      for (const l of this.drains) if (l.drainReady()) this.owner.engine.flow(l.link);
    }
    if (this.attachWaits.length > 0) {
      const waiting = this.attachWaits.splice(0);
      for (const w of waiting) {
        if (RheaEngine.attachPending(w.link)) this.attachWaits.push(w);
        else setImmediate(w.fn);
      }
    }
  }

  /** The connection is gone: every handler releases its core resources. */
  disposeAll(): void {
    for (const links of this.sessions.values()) for (const h of [...links]) h.dispose();
    this.sessions.clear();
  }
}
