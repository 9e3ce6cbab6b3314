/**
 * A bound XMPP session: one full JID, its presence, and its stream management state (XEP-0198).
 * The session outlives its connection when resumption is enabled: the connection (a `SessionLink`)
 * may drop and a new one may take the session over with `<resume/>` within the timeout, receiving
 * every stanza the client had not acknowledged.
 */
import { randomBytes } from 'node:crypto';
import type { Principal } from '../../core/adapter.js';
import { Deque } from '../../core/deque.js';
import type { Jid } from './jid.js';
import { NS } from './ns.js';
import type { XElement } from './xml.js';

export interface SessionLink {
  readonly id: string;
  /** The connection's registry entry (stanzas out are counted on it). */
  readonly client?: { messagesOut: number };
  write(data: string): void;
  /** True while the connection's outbound buffer is over its high-water mark. */
  readonly congested: boolean;
  whenDrained(cb: () => void): void;
  /** Sends a stream error and closes. */
  streamError(condition: string, text?: string): void;
  /** Closes without an error (the session moved to another link). */
  detach(): void;
}

interface Unacked {
  h: number;
  data: string;
  /** A chat/normal message that goes to offline storage if never acknowledged. */
  storable: boolean;
}

const R_NONZA = `<r xmlns='${NS.sm}'/>`;

export class Session {
  readonly id = randomBytes(9).toString('base64url');
  link: SessionLink | null;
  available = false;
  priority = 0;
  /** The last broadcast presence as sent by the client (from stamped), for probes and new contacts. */
  presence: XElement | null = null;
  /** Full JIDs that got directed presence (they get unavailable at logout). */
  readonly directed = new Set<string>();
  rosterInterested = false;
  ended = false;

  // XEP-0198
  smEnabled = false;
  smResumable = false;
  /** Stanzas received from the client since enable. */
  inH = 0;
  /** Stanzas sent to the client since enable. */
  outH = 0;
  private readonly unacked = new Deque<Unacked>();
  private ackRequested = false;
  hibernateTimer?: NodeJS.Timeout;

  constructor(readonly jid: Jid, readonly principal: Principal, link: SessionLink, private readonly maxUnacked: number) {
    this.link = link;
  }

  get bare(): string {
    return this.jid.bare;
  }

  get full(): string {
    return this.jid.full;
  }

  get hibernating(): boolean {
    return this.link === null && !this.ended;
  }

  get congested(): boolean {
    return this.link?.congested ?? false;
  }

  get unackedCount(): number {
    return this.unacked.length;
  }

  /** Sends one stanza (message, presence, iq). */
  send(data: string, storable = false): void {
    if (this.ended) return;
    if (this.link?.client && data.startsWith('<message')) this.link.client.messagesOut++;
    if (this.smEnabled) {
      this.outH = (this.outH + 1) >>> 0;
      this.unacked.push({ h: this.outH, data, storable });
      if (this.unacked.length > this.maxUnacked) {
        this.link?.streamError('resource-constraint', 'too many unacknowledged stanzas');
        return;
      }
      if (this.link) {
        this.link.write(data);
        this.requestAck();
      }
      return;
    }
    this.link?.write(data);
  }

  /** Sends a nonza (stream-level element that SM does not count). */
  sendNonza(data: string): void {
    this.link?.write(data);
  }

  private requestAck(): void {
    if (this.ackRequested) return;
    this.ackRequested = true;
    setImmediate(() => {
      this.ackRequested = false;
      if (this.link && this.unacked.length > 0) this.link.write(R_NONZA);
    });
  }

  /** Handles the client's `<a h='N'/>`. Returns false when N acknowledges more than was sent. */
  acknowledge(h: number): boolean {
    const sentSinceStart = this.outH;
    const first = this.unacked.peek();
    const lowest = first ? first.h - 1 : sentSinceStart;
    const count = (h - lowest) >>> 0;
    if (count > this.unacked.length) return false;
    for (let i = 0; i < count; i++) this.unacked.shift();
    return true;
  }

  enableSm(resumable: boolean): void {
    this.smEnabled = true;
    this.smResumable = resumable;
    this.inH = 0;
    this.outH = 0;
  }

  /** Moves the session to a new link after `<resume/>`: replays what the client has not acknowledged. */
  resumeOn(link: SessionLink): void {
    clearTimeout(this.hibernateTimer);
    this.hibernateTimer = undefined;
    const old = this.link;
    this.link = link;
    if (old && old !== link) old.detach();
    for (const u of this.unacked.toArray()) link.write(u.data);
    if (this.unacked.length > 0) this.requestAck();
  }

  /** Unacknowledged chat messages, for offline storage when the session ends. */
  takeStorable(): string[] {
    const out = this.unacked.toArray().filter((u) => u.storable).map((u) => u.data);
    this.unacked.clear();
    return out;
  }
}
