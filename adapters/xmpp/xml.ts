/**
 * A small typed XML element tree for stanzas: what the stream parser builds and what the adapter
 * serialises. Attribute names are kept as written (`xmlns`, `xml:lang`, `xmlns:stream`); the
 * element's namespace is resolved by the parser and kept in `ns` so a stanza detached from its
 * stream still knows it.
 */
import { SaxesParser } from 'saxes';

export type XNode = XElement | string;

const ESC_ATTR = /[&<>"']/g;
const ESC_TEXT = /[&<>]/g;
const HAS_ATTR = /[&<>"']/;
const HAS_TEXT = /[&<>]/;
const ESC: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };

export function escapeAttr(s: string): string {
  return HAS_ATTR.test(s) ? s.replace(ESC_ATTR, (c) => ESC[c]) : s;
}

export function escapeText(s: string): string {
  return HAS_TEXT.test(s) ? s.replace(ESC_TEXT, (c) => ESC[c]) : s;
}

export class XElement {
  children: XNode[] = [];
  /** Resolved namespace URI ('' when none). */
  ns: string;

  constructor(public name: string, public attrs: Record<string, string> = {}, ns?: string) {
    this.ns = ns ?? attrs.xmlns ?? '';
  }

  /** Local part of the name (without a prefix). */
  get local(): string {
    const i = this.name.indexOf(':');
    return i < 0 ? this.name : this.name.slice(i + 1);
  }

  is(local: string, ns?: string): boolean {
    return this.local === local && (ns === undefined || this.ns === ns);
  }

  attr(name: string): string | undefined {
    return this.attrs[name];
  }

  /** Appends a child element or text and returns this element (chainable). */
  c(child: XNode | null | undefined): this {
    if (child !== null && child !== undefined && child !== '') this.children.push(child);
    return this;
  }

  /** First child element with this local name (and namespace, when given). */
  child(local: string, ns?: string): XElement | undefined {
    for (const c of this.children) if (typeof c !== 'string' && c.is(local, ns)) return c;
    return undefined;
  }

  childrenNamed(local: string, ns?: string): XElement[] {
    const out: XElement[] = [];
    for (const c of this.children) if (typeof c !== 'string' && c.is(local, ns)) out.push(c);
    return out;
  }

  elements(): XElement[] {
    const out: XElement[] = [];
    for (const c of this.children) if (typeof c !== 'string') out.push(c);
    return out;
  }

  /** Concatenated text children (not descendants). */
  text(): string {
    let s = '';
    for (const c of this.children) if (typeof c === 'string') s += c;
    return s;
  }

  childText(local: string, ns?: string): string | undefined {
    return this.child(local, ns)?.text();
  }

  /** Serialises this element. `extraAttrs` are written first (e.g. xmlns for WebSocket framing). */
  toString(extraAttrs?: Record<string, string>): string {
    const parts: string[] = [];
    this.write(parts, extraAttrs);
    return parts.join('');
  }

  private write(out: string[], extra?: Record<string, string>): void {
    out.push('<', this.name);
    if (extra) for (const k in extra) if (this.attrs[k] === undefined) out.push(' ', k, "='", escapeAttr(extra[k]), "'");
    for (const k in this.attrs) {
      const v = this.attrs[k];
      if (v !== undefined) out.push(' ', k, "='", escapeAttr(v), "'");
    }
    if (this.children.length === 0) {
      out.push('/>');
      return;
    }
    out.push('>');
    for (const c of this.children) {
      if (typeof c === 'string') out.push(escapeText(c));
      else c.write(out);
    }
    out.push('</', this.name, '>');
  }

  /** A deep copy (routing changes `from`/`to` on copies, never on the parsed original). */
  clone(): XElement {
    const e = new XElement(this.name, { ...this.attrs }, this.ns);
    e.children = this.children.map((c) => (typeof c === 'string' ? c : c.clone()));
    return e;
  }
}

/** Builds an element: `x('iq', {type: 'result', id}, x('query', {xmlns: NS}))`. */
export function x(name: string, attrs?: Record<string, string | undefined> | null, ...children: Array<XNode | null | undefined | false>): XElement {
  const clean: Record<string, string> = {};
  if (attrs) for (const k in attrs) { const v = attrs[k]; if (v !== undefined) clean[k] = v; }
  const e = new XElement(name, clean);
  for (const c of children) if (c !== null && c !== undefined && c !== false) e.c(c);
  return e;
}

export class XmlParseError extends Error {
  override readonly name = 'XmlParseError';
  constructor(message: string, readonly restricted = false) {
    super(message);
  }
}

/**
 * Parses one XML document or fragment (a stored stanza, a payload an XMPP client published)
 * into elements. DTDs, entity declarations, comments and processing instructions are refused
 * (never expanded); nesting and size are bounded.
 */
export function parseXml(text: string, opts: { maxDepth?: number; maxChars?: number; defaultNs?: string } = {}): XElement {
  const maxDepth = opts.maxDepth ?? 64;
  if (opts.maxChars !== undefined && text.length > opts.maxChars) throw new XmlParseError('document too large');
  const parser = new SaxesParser({ xmlns: true, position: false, additionalNamespaces: opts.defaultNs ? { '': opts.defaultNs } : undefined });
  const stack: XElement[] = [];
  let root: XElement | undefined;
  parser.on('error', (e) => { throw new XmlParseError(e.message); });
  parser.on('doctype', () => { throw new XmlParseError('DTDs are not allowed', true); });
  parser.on('processinginstruction', () => { throw new XmlParseError('processing instructions are not allowed', true); });
  parser.on('opentag', (tag) => {
    if (stack.length >= maxDepth) throw new XmlParseError('nesting too deep');
    const attrs: Record<string, string> = {};
    for (const k in tag.attributes) attrs[k] = tag.attributes[k].value;
    const el = new XElement(tag.name, attrs, tag.uri);
    if (stack.length) stack[stack.length - 1].children.push(el);
    else root = el;
    stack.push(el);
  });
  parser.on('closetag', () => { stack.pop(); });
  parser.on('text', (t) => { if (stack.length) stack[stack.length - 1].children.push(t); });
  parser.on('cdata', (t) => { if (stack.length) stack[stack.length - 1].children.push(t); });
  parser.write(text).close();
  if (!root) throw new XmlParseError('no element');
  return root;
}
