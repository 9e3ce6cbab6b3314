/** Stanza helpers: serialisation for both framings, stanza errors (RFC 6120 8.3), stream errors. */
import { NS } from './ns.js';
import { x, XElement } from './xml.js';

const CLIENT = { xmlns: NS.client };

/** Serialises a top-level stanza so it is valid on TCP and WebSocket alike (explicit jabber:client). */
export function out(el: XElement): string {
  return el.toString(CLIENT);
}

export type ErrorType = 'auth' | 'cancel' | 'continue' | 'modify' | 'wait';

const DEFAULT_TYPE: Record<string, ErrorType> = {
  'bad-request': 'modify',
  conflict: 'cancel',
  'feature-not-implemented': 'cancel',
  forbidden: 'auth',
  'internal-server-error': 'cancel',
  'item-not-found': 'cancel',
  'jid-malformed': 'modify',
  'not-acceptable': 'modify',
  'not-allowed': 'cancel',
  'not-authorized': 'auth',
  'policy-violation': 'modify',
  'recipient-unavailable': 'wait',
  'remote-server-not-found': 'cancel',
  'resource-constraint': 'wait',
  'service-unavailable': 'cancel',
  'subscription-required': 'auth',
  'undefined-condition': 'cancel',
  'unexpected-request': 'wait',
};

export function errorElement(condition: string, text?: string, extra?: XElement, type?: ErrorType): XElement {
  const e = x('error', { type: type ?? DEFAULT_TYPE[condition] ?? 'cancel' }, x(condition, { xmlns: NS.stanzas }));
  if (extra) e.c(extra);
  if (text) e.c(x('text', { xmlns: NS.stanzas, 'xml:lang': 'en' }, text));
  return e;
}

/** The error reply to a stanza: addresses swapped, id kept, the original payload left out. */
export function errorReply(stanza: XElement, condition: string, text?: string, extra?: XElement, type?: ErrorType): XElement {
  return x(stanza.local, { type: 'error', id: stanza.attr('id'), from: stanza.attr('to'), to: stanza.attr('from') }, errorElement(condition, text, extra, type));
}

export function iqResult(iq: XElement, child?: XElement): XElement {
  return x('iq', { type: 'result', id: iq.attr('id'), from: iq.attr('to'), to: iq.attr('from') }, child);
}

export function streamErrorXml(condition: string, text?: string): string {
  const e = x('stream:error', { 'xmlns:stream': NS.stream }, x(condition, { xmlns: NS.streams }));
  if (text) e.c(x('text', { xmlns: NS.streams, 'xml:lang': 'en' }, text));
  return e.toString();
}

let counter = 0;
const prefix = Math.random().toString(36).slice(2, 8);
export function newId(): string {
  return `${prefix}${(counter++).toString(36)}`;
}
