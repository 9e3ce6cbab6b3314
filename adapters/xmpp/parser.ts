/**
 * The incremental XML stream parser of the C2S layer, on saxes (a strict, maintained XML 1.0 +
 * namespaces SAX parser). saxes never expands anything it was not told about: it reports a DTD as
 * a `doctype` event (refused here as `restricted-xml` before any entity could be used), an entity
 * reference other than the five predefined ones and character references is an error, and
 * well-formedness (matching tags, bound prefixes, one root, legal characters) is checked as the
 * bytes arrive. Limits are enforced while parsing, not after: nesting depth on every start tag,
 * stanza size on every slice of input (at most SLICE characters past the limit are ever held).
 *
 * Modes:
 * - `tcp`: one document per stream; the root is `<stream:stream>` (reported as streamStart), its
 *   children are stanzas. A stream restart (after STARTTLS / SASL) starts a new document.
 * - `ws` (RFC 7395): every WebSocket message is one complete element (`<open/>`, a stanza,
 *   `<close/>`), parsed as a child of a synthetic root that declares the client namespaces.
 */
import { StringDecoder } from 'node:string_decoder';
import { SaxesParser, type SaxesTagNS } from 'saxes';
import { NS } from './ns.js';
import { XElement } from './xml.js';

export interface StreamHandlers {
  /** TCP: the peer's stream header. */
  streamStart(name: string, uri: string, attrs: Record<string, string>): void;
  /** A complete top-level element (stanza or nonza). Return true to halt parsing after it (see resume()). */
  stanza(el: XElement): boolean | void;
  /** TCP: `</stream:stream>`. */
  streamEnd(): void;
}

/** A stream-level error raised by the parser: the connection answers with `<stream:error>`. */
export class StreamError extends Error {
  override readonly name = 'StreamError';
  constructor(readonly condition: string, text?: string) {
    super(text ?? condition);
  }
}

export interface ParserLimits {
  maxStanzaChars: number;
  maxDepth: number;
}

const SLICE = 16384;
const SYNTHETIC_ROOT = `<stream:stream xmlns='${NS.client}' xmlns:stream='${NS.stream}'>`;

class Halt {
  constructor(readonly remainder: string) {}
}

interface SaxesInternals {
  chunk: string;
  i: number;
  carriedFromPrevious?: string;
}

export class XmppStreamParser {
  private parser!: SaxesParser<{ xmlns: true }>;
  private decoder = new StringDecoder('utf8');
  private stack: XElement[] = [];
  /** Characters fed to the current saxes parser, and the count at the last stanza boundary. */
  private fed = 0;
  private boundary = 0;
  private priming = false;
  private halted = false;
  private held = '';
  ended = false;

  constructor(readonly mode: 'tcp' | 'ws', public limits: ParserLimits, private readonly handlers: StreamHandlers) {
    this.reset(mode === 'ws');
  }

  /** Starts a new document (stream restart after STARTTLS or SASL). */
  restart(): void {
    this.reset(this.mode === 'ws');
  }

  get isHalted(): boolean {
    return this.halted;
  }

  /** Drops input received while halted (plaintext sent after STARTTLS must never be processed). */
  discardHeld(): void {
    this.held = '';
  }

  /** A new byte stream (after the TLS handshake). */
  resetDecoder(): void {
    this.decoder = new StringDecoder('utf8');
  }

  /** TCP bytes. Throws StreamError. Returns false while halted (the caller should stop reading). */
  writeBytes(data: Buffer): boolean {
    const text = this.decoder.write(data);
    if (text.includes('\uFFFD') && !data.includes(REPLACEMENT)) throw new StreamError('unsupported-encoding', 'the stream is not UTF-8');
    if (this.halted) {
      this.held += text;
      if (this.held.length > this.limits.maxStanzaChars) throw new StreamError('policy-violation', 'too much data while negotiating');
      return false;
    }
    return this.writeText(text);
  }

  /**
   * Continues after a halt. `restart` begins a new document (the peer sends a new stream
   * header); otherwise parsing continues within the same stream.
   */
  resume(restart: boolean): boolean {
    if (!this.halted) return true;
    this.halted = false;
    if (restart) this.restart();
    else this.reset(true);
    const held = this.held;
    this.held = '';
    return held.length === 0 ? true : this.writeText(held);
  }

  private writeText(text: string): boolean {
    while (text.length > 0) {
      const piece = text.length > SLICE ? text.slice(0, SLICE) : text;
      text = text.length > SLICE ? text.slice(SLICE) : '';
      if (!this.feed(piece)) {
        this.held += text;
        return false;
      }
    }
    return true;
  }

  /** One WebSocket message: exactly one complete element. */
  writeMessage(text: string): void {
    if (text.length > this.limits.maxStanzaChars) throw new StreamError('policy-violation', 'stanza too large');
    let body = text;
    if (body.startsWith('<?xml')) {
      const end = body.indexOf('?>');
      if (end < 0) throw new StreamError('not-well-formed', 'unterminated XML declaration');
      body = body.slice(end + 2);
    }
    if (body.includes('<!DOCTYPE') || body.includes('<!ENTITY')) throw new StreamError('restricted-xml', 'DTDs and entity declarations are not allowed');
    this.boundary = this.fed;
    this.feed(body);
    if (this.stack.length !== 1) throw new StreamError('not-well-formed', 'a WebSocket message must hold complete elements');
  }

  private feed(piece: string): boolean {
    try {
      this.parser.write(piece);
    } catch (e) {
      if (e instanceof Halt) {
        this.halted = true;
        this.held = e.remainder;
        return false;
      }
      if (e instanceof StreamError) throw e;
      throw new StreamError('internal-server-error', String(e));
    }
    this.fed += piece.length;
    if (this.fed - this.boundary > this.limits.maxStanzaChars) throw new StreamError('policy-violation', 'stanza too large');
    return true;
  }

  private reset(primed: boolean): void {
    this.stack = [];
    this.fed = 0;
    this.boundary = 0;
    this.ended = false;
    const p = new SaxesParser({ xmlns: true, position: false });
    this.parser = p;
    p.on('error', (e) => {
      const m = e.message;
      throw new StreamError(/entity|doctype/i.test(m) ? 'restricted-xml' : 'not-well-formed', m);
    });
    p.on('doctype', () => { throw new StreamError('restricted-xml', 'DTDs and entity declarations are not allowed'); });
    p.on('processinginstruction', () => { throw new StreamError('restricted-xml', 'processing instructions are not allowed'); });
    p.on('comment', () => { throw new StreamError('restricted-xml', 'comments are not allowed'); });
    p.on('opentag', (tag) => this.onOpen(tag));
    p.on('closetag', () => this.onClose());
    p.on('text', (t) => this.onText(t));
    p.on('cdata', (t) => this.onText(t));
    if (primed) {
      this.priming = true;
      p.write(SYNTHETIC_ROOT);
      this.priming = false;
    }
  }

  private onOpen(tag: SaxesTagNS): void {
    const depth = this.stack.length;
    if (depth === 0) {
      const attrs: Record<string, string> = {};
      for (const k in tag.attributes) attrs[k] = tag.attributes[k].value;
      const root = new XElement(tag.name, attrs, tag.uri);
      this.stack.push(root);
      if (!this.priming) {
        this.boundary = this.fed;
        this.handlers.streamStart(tag.local, tag.uri, attrs);
      }
      return;
    }
    if (depth > this.limits.maxDepth) throw new StreamError('policy-violation', 'elements nested too deeply');
    this.checkSize();
    const attrs: Record<string, string> = {};
    for (const k in tag.attributes) attrs[k] = tag.attributes[k].value;
    const el = new XElement(tag.name, attrs, tag.uri);
    if (depth > 1) this.stack[depth - 1].children.push(el);
    this.stack.push(el);
  }

  private onClose(): void {
    const el = this.stack.pop()!;
    const depth = this.stack.length;
    if (depth === 0) {
      this.ended = true;
      this.handlers.streamEnd();
      return;
    }
    if (depth !== 1) return;
    const p = this.parser as unknown as SaxesInternals;
    this.checkSize();
    this.boundary = this.fed + p.i;
    if (this.handlers.stanza(el) === true) {
      throw new Halt(p.chunk.slice(p.i) + (p.carriedFromPrevious ?? ''));
    }
  }

  /** Characters since the last stanza boundary, checked at every tag (a stanza inside one slice too). */
  private checkSize(): void {
    if (this.priming) return;
    const p = this.parser as unknown as SaxesInternals;
    if (this.fed + p.i - this.boundary > this.limits.maxStanzaChars) throw new StreamError('policy-violation', 'stanza too large');
  }

  private onText(t: string): void {
    const depth = this.stack.length;
    if (depth >= 2) {
      const el = this.stack[depth - 1];
      const last = el.children.length - 1;
      if (last >= 0 && typeof el.children[last] === 'string') el.children[last] += t;
      else el.children.push(t);
    }
  }
}

const REPLACEMENT = Buffer.from([0xef, 0xbf, 0xbd]);
