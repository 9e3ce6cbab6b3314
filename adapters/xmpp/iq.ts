/**
 * IQ routing and the server's own IQs: disco, ping, version, legacy session, registration info,
 * and the account IQs a server answers on behalf of a user (RFC 6121 8.5). Roster IQs go to
 * roster-handlers.ts, pubsub IQs to pubsub.ts.
 */
import type { Hub } from './hub.js';
import { parseJid } from './jid.js';
import { NS } from './ns.js';
import type { Session } from './session.js';
import { iqResult, out } from './stanza.js';
import { x, type XElement } from './xml.js';

export const VERSION = '0.1.0';

// ---- IQ -------------------------------------------------------------------------------------

export function onIq(hub: Hub, s: Session, iq: XElement): void | Promise<void> {
  const type = iq.attr('type');
  const id = iq.attr('id');
  const isRequest = type === 'get' || type === 'set';
  if (!id || (!isRequest && type !== 'result' && type !== 'error')) {
    if (type !== 'error' && type !== 'result') return hub.bounce(s, iq, 'bad-request', 'an iq needs an id and a type');
    return;
  }
  if (isRequest && iq.elements().length !== 1) return hub.bounce(s, iq, 'bad-request', 'an iq get/set has exactly one child');
  const toAttr = iq.attrs.to;
  const to = toAttr === undefined ? null : parseJid(toAttr);
  if (toAttr !== undefined && !to) return hub.bounce(s, iq, 'jid-malformed');
  if (!to || to.full === s.bare) return isRequest ? accountIq(hub, s, iq, true) : undefined;
  if (to.full === hub.domain) return isRequest ? serverIq(hub, s, iq) : undefined;
  if (to.domain === hub.pubsubDomain && !to.local) return isRequest ? hub.pubsub.handleIq(s, iq) : undefined;
  if (to.domain !== hub.domain) return isRequest ? hub.bounce(s, iq, 'remote-server-not-found') : undefined;
  if (!to.resource) return isRequest ? accountIq(hub, s, iq, false) : undefined;
  const target = hub.users.get(to.bare)?.sessions.get(to.resource);
  if (target) {
    target.send(out(iq));
    return;
  }
  if (hub.cluster?.routeIq(to, iq)) return;
  if (isRequest) hub.bounce(s, iq, 'service-unavailable');
}

/** IQs to the user's own account (no 'to', or the bare JID) or another account's bare JID. */
export function accountIq(hub: Hub, s: Session, iq: XElement, own: boolean): void | Promise<void> {
  const q = iq.elements()[0];
  if (own && q.is('query', NS.roster)) return hub.rosterIq(s, iq, q);
  if (own && q.is('session', NS.session)) return hub.reply(s, iqResult(iq));
  if (own && q.is('query', NS.register)) return registerIq(hub, s, iq, q);
  if (q.is('ping', NS.ping) && iq.attr('type') === 'get') return hub.reply(s, iqResult(iq));
  if (q.is('query', NS.discoInfo) && iq.attr('type') === 'get' && !q.attr('node')) {
    return hub.reply(s, iqResult(iq, x('query', { xmlns: NS.discoInfo },
      x('identity', { category: 'account', type: s.principal.anonymous && own ? 'anonymous' : 'registered' }),
      x('feature', { var: NS.discoInfo }))));
  }
  if (q.is('query', NS.discoItems) && iq.attr('type') === 'get') return hub.reply(s, iqResult(iq, x('query', { xmlns: NS.discoItems })));
  // A server handling an IQ on behalf of an account it cannot answer for (RFC 6121 8.5.2.1.3).
  hub.bounce(s, iq, 'service-unavailable');
}

export function serverIq(hub: Hub, s: Session, iq: XElement): void | Promise<void> {
  const q = iq.elements()[0];
  const get = iq.attr('type') === 'get';
  if (q.is('ping', NS.ping) && get) return hub.reply(s, iqResult(iq));
  if (q.is('session', NS.session)) return hub.reply(s, iqResult(iq));
  if (q.is('query', NS.discoInfo) && get) {
    if (q.attr('node')) return hub.bounce(s, iq, 'item-not-found');
    const features = [NS.discoInfo, NS.discoItems, NS.ping, NS.roster, NS.version, NS.msgoffline, NS.sm, 'urn:xmpp:delay', 'vcard-temp'];
    if (hub.settings.registration) features.push(NS.register);
    const query = x('query', { xmlns: NS.discoInfo }, x('identity', { category: 'server', type: 'im', name: 'Junction' }));
    for (const f of features.sort()) query.c(x('feature', { var: f }));
    return hub.reply(s, iqResult(iq, query));
  }
  if (q.is('query', NS.discoItems) && get) {
    if (q.attr('node')) return hub.reply(s, iqResult(iq, x('query', { xmlns: NS.discoItems, node: q.attr('node') })));
    return hub.reply(s, iqResult(iq, x('query', { xmlns: NS.discoItems }, x('item', { jid: hub.pubsubDomain, name: 'Publish-Subscribe service' }))));
  }
  if (q.is('query', NS.version) && get) {
    return hub.reply(s, iqResult(iq, x('query', { xmlns: NS.version }, x('name', null, 'Junction'), x('version', null, VERSION))));
  }
  if (q.is('query', NS.roster)) return hub.rosterIq(s, iq, q);
  if (q.is('query', NS.register)) return registerIq(hub, s, iq, q);
  hub.bounce(s, iq, 'service-unavailable');
}

export function registerIq(hub: Hub, s: Session, iq: XElement, q: XElement): void {
  if (iq.attr('type') === 'get') {
    hub.reply(s, iqResult(iq, x('query', { xmlns: NS.register }, x('registered'), x('username', null, s.jid.local))));
    return;
  }
  // Changing the password or cancelling needs an auth plugin operation that does not exist yet.
  void q;
  hub.bounce(s, iq, 'not-allowed', 'password changes and cancellation are done by the administrator');
}
