/**
 * XMPP pubsub item <-> core message (the XMPP rows of docs/mapping.md, each with a test).
 *
 * Item -> core (an XMPP client publishes):
 * | item content | payload bytes | contentType | text |
 * |---|---|---|---|
 * | `<payload xmlns='urn:junction:payload:0' content-type='T' encoding='utf-8'>text</payload>` | UTF-8 of text | T | true |
 * | `<payload ... encoding='base64'>b64</payload>` | decoded bytes | T | false |
 * | `<json xmlns='urn:xmpp:json:0'>{..}</json>` (XEP-0335) | UTF-8 of the JSON text | application/json | true |
 * | any other element | its XML text | application/xml | true |
 * | nothing | empty | - | - |
 * Item id = core messageId; the publisher's bare JID goes to annotation `xmpp.publisher`.
 *
 * Core -> item (an XMPP subscriber receives):
 * | core message | item content |
 * |---|---|
 * | JSON content type, payload valid JSON text | `<json xmlns='urn:xmpp:json:0'>` |
 * | XML content type, payload one XML element that re-serialises to the same bytes | that element |
 * | payload valid UTF-8 text that XML can carry unchanged | `<payload encoding='utf-8'>` text |
 * | anything else | `<payload encoding='base64'>` |
 * `content-type` is written on `<payload>` when the message has one. messageId = item id.
 */
import { isUtf8 } from 'node:buffer';
import { createMessage, type Message } from '../../core/message.js';
import { NS } from './ns.js';
import { parseXml, XElement, x } from './xml.js';

export const XMPP_XML_CONTENT_TYPE = 'application/xmpp+xml';

export class PayloadError extends Error {
  override readonly name = 'PayloadError';
}

export interface ItemContent {
  payload: Buffer;
  contentType?: string;
  text?: boolean;
}

const BASE64 = /^[A-Za-z0-9+/\s]*={0,2}\s*$/;

function isJsonType(ct: string | undefined): boolean {
  if (!ct) return false;
  const t = ct.split(';')[0].trim().toLowerCase();
  return t === 'application/json' || t.endsWith('+json') || t === 'text/json';
}

function isXmlType(ct: string | undefined): boolean {
  if (!ct) return false;
  const t = ct.split(';')[0].trim().toLowerCase();
  return t === 'application/xml' || t === 'text/xml' || (t.endsWith('+xml') && t !== XMPP_XML_CONTENT_TYPE);
}

// Characters XML 1.0 cannot carry as text, plus CR (normalised away by every XML parser).
// eslint-disable-next-line no-control-regex
const NOT_XML_TEXT = /[\u0000-\u0008\u000B-\u000D\u000E-\u001F\uFFFE\uFFFF]/;

/** Serialises a payload element found inside an item so it stands alone (declares its namespace). */
export function standaloneXml(el: XElement): string {
  const extra: Record<string, string> = {};
  const colon = el.name.indexOf(':');
  if (colon < 0) {
    if (el.attrs.xmlns === undefined && el.ns) extra.xmlns = el.ns;
  } else {
    const prefix = el.name.slice(0, colon);
    if (el.attrs[`xmlns:${prefix}`] === undefined && el.ns) extra[`xmlns:${prefix}`] = el.ns;
  }
  return el.toString(extra);
}

/** The content of a published `<item>`. Throws PayloadError for a malformed `<payload>`. */
export function itemToContent(item: XElement): ItemContent {
  const child = item.elements()[0];
  if (!child) return { payload: Buffer.alloc(0) };
  if (child.is('payload', NS.payload)) {
    const ct = child.attr('content-type') || undefined;
    const encoding = (child.attr('encoding') ?? 'utf-8').toLowerCase();
    const body = child.text();
    if (encoding === 'base64') {
      if (!BASE64.test(body)) throw new PayloadError('payload is not base64');
      return { payload: Buffer.from(body, 'base64'), contentType: ct, text: false };
    }
    if (encoding !== 'utf-8' && encoding !== 'utf8') throw new PayloadError(`unknown payload encoding ${encoding}`);
    return { payload: Buffer.from(body, 'utf8'), contentType: ct, text: true };
  }
  if (child.is('json', NS.json)) {
    return { payload: Buffer.from(child.text(), 'utf8'), contentType: 'application/json', text: true };
  }
  return { payload: Buffer.from(standaloneXml(child), 'utf8'), contentType: 'application/xml', text: true };
}

/** Builds the core message for an item published on `node`. */
export function itemToMessage(node: string, item: XElement, itemId: string, publisher: string): Message {
  const c = itemToContent(item);
  return createMessage({
    topic: node,
    payload: c.payload,
    ...(c.contentType !== undefined ? { contentType: c.contentType } : {}),
    ...(c.text !== undefined ? { text: c.text } : {}),
    messageId: itemId,
    durable: true,
    source: 'xmpp',
    annotations: { 'xmpp.publisher': publisher },
  });
}

const itemCache = new WeakMap<Message, XElement>();

/** The element carried inside `<item>` for a core message (cached per message object). */
export function contentToElement(message: Pick<Message, 'payload' | 'contentType'>): XElement {
  const { payload, contentType } = message;
  const utf8 = payload.length === 0 || isUtf8(payload);
  const text = utf8 ? payload.toString('utf8') : '';
  const textOk = utf8 && !NOT_XML_TEXT.test(text);
  if (textOk && isJsonType(contentType) && text.length > 0) {
    try {
      JSON.parse(text);
      return x('json', { xmlns: NS.json }, text);
    } catch { /* not JSON after all: carried as a payload element */ }
  }
  if (textOk && isXmlType(contentType) && text.length > 0) {
    try {
      const el = parseXml(text, { maxChars: 16 * 1024 * 1024 });
      if (el.toString() === text) return el;
    } catch { /* not one XML element: carried as a payload element */ }
  }
  const attrs: Record<string, string | undefined> = { xmlns: NS.payload, 'content-type': contentType, encoding: textOk ? 'utf-8' : 'base64' };
  return x('payload', attrs, textOk ? text : payload.toString('base64'));
}

export function messageToElement(message: Message): XElement {
  let el = itemCache.get(message);
  if (!el) {
    el = contentToElement(message);
    itemCache.set(message, el);
  }
  return el;
}
