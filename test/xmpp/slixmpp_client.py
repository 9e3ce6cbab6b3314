"""Debian python3-slixmpp against Junction's XMPP adapter (run with /usr/bin/python3).

usage: slixmpp_client.py SCENARIO PORT [ARGS]
  login MECH USER PASSWORD   logs in with only SASL mechanism MECH allowed: {"ok": true|false, "mech": MECH}
  external USER CERT KEY CA  STARTTLS with a client certificate, then SASL EXTERNAL: {"ok": ..., "jid": ...}
  im      registration (XEP-0077), login (SCRAM), roster + presence subscription, chat, offline delivery
  pubsub  XEP-0060 with the xep_0060 plugin: create, subscribe, publish, event, retrieve, delete
Prints one JSON line of results; exits non-zero on failure.
"""
import asyncio
import json
import logging
import sys
import uuid

import slixmpp
from slixmpp.xmlstream import ET

DOMAIN = 'localhost'
PUBSUB = 'pubsub.localhost'
TIMEOUT = 10


class Client(slixmpp.ClientXMPP):
    def __init__(self, jid, password, register=False):
        super().__init__(jid, password)
        for p in ('xep_0030', 'xep_0199', 'xep_0060', 'xep_0077', 'xep_0203'):
            self.register_plugin(p)
        self.messages = asyncio.Queue()
        self.events = asyncio.Queue()
        self.presences = asyncio.Queue()
        self.started = asyncio.get_event_loop().create_future()
        self.registered = None
        if register:
            self['xep_0077'].force_registration = True
            # slixmpp 1.8 holds back every stanza until the session starts, registration included.
            self._always_send_everything = True
            self.add_event_handler('register', self.on_register)
        self.add_event_handler('session_start', self.on_start)
        self.add_event_handler('message', lambda m: self.messages.put_nowait(m) if m['type'] in ('chat', 'normal') else None)
        self.add_event_handler('pubsub_publish', lambda m: self.events.put_nowait(m))
        self.add_event_handler('presence_available', lambda p: self.presences.put_nowait(p))
        self.add_event_handler('failed_auth', lambda *_: self.started.done() or self.started.set_exception(RuntimeError('auth failed')))

    async def on_register(self, _form):
        iq = self.Iq()
        iq['type'] = 'set'
        iq['register']['username'] = self.boundjid.user
        iq['register']['password'] = self.password
        await iq.send()
        self.registered = True

    async def on_start(self, _event):
        await self.get_roster()
        self.send_presence()
        if not self.started.done():
            self.started.set_result(True)

    async def start(self, port):
        self.connect(('127.0.0.1', port), use_ssl=False, force_starttls=False, disable_starttls=True)
        await asyncio.wait_for(self.started, TIMEOUT)
        return self


async def im(port):
    out = {}
    suffix = uuid.uuid4().hex[:6]
    u1, u2, u3 = f'sx1{suffix}', f'sx2{suffix}', f'sx3{suffix}'
    a = await Client(f'{u1}@{DOMAIN}/py', 'pw1', register=True).start(port)
    b = await Client(f'{u2}@{DOMAIN}/py', 'pw2', register=True).start(port)
    out['registered'] = bool(a.registered and b.registered)
    # Registering the third account, then going offline.
    c = await Client(f'{u3}@{DOMAIN}/py', 'pw3', register=True).start(port)
    c.disconnect()
    await c.disconnected
    # Roster + presence subscription: b approves automatically (slixmpp auto_authorize).
    a.send_presence_subscription(pto=f'{u2}@{DOMAIN}')
    p = await asyncio.wait_for(wait_for(a.presences, lambda p: p['from'].bare == f'{u2}@{DOMAIN}'), TIMEOUT)
    out['presence_from'] = str(p['from'])
    await asyncio.sleep(0.2)
    roster = await a.get_roster()
    out['subscription'] = a.client_roster[f'{u2}@{DOMAIN}']['subscription']
    # Chat both ways.
    a.send_message(mto=f'{u2}@{DOMAIN}', mbody='hello from slixmpp', mtype='chat')
    m = await asyncio.wait_for(b.messages.get(), TIMEOUT)
    out['chat'] = m['body']
    b.send_message(mto=m['from'], mbody='reply', mtype='chat')
    m2 = await asyncio.wait_for(a.messages.get(), TIMEOUT)
    out['reply'] = m2['body']
    # Offline delivery.
    a.send_message(mto=f'{u3}@{DOMAIN}', mbody='kept for you', mtype='chat')
    await asyncio.sleep(0.3)
    c2 = await Client(f'{u3}@{DOMAIN}/py', 'pw3').start(port)
    m3 = await asyncio.wait_for(c2.messages.get(), TIMEOUT)
    out['offline'] = m3['body']
    out['offline_delayed'] = m3['delay']['stamp'] is not None
    # Ping and disco.
    await a['xep_0199'].ping(DOMAIN, timeout=TIMEOUT)
    info = await a['xep_0030'].get_info(jid=DOMAIN, timeout=TIMEOUT)
    out['disco_features'] = 'urn:xmpp:ping' in info['disco_info']['features']
    for x in (a, b, c2):
        x.disconnect()
    return out


async def pubsub(port):
    out = {}
    suffix = uuid.uuid4().hex[:6]
    node = f'py.node{suffix}'
    a = await Client(f'pa{suffix}@{DOMAIN}/py', 'pw', register=True).start(port)
    b = await Client(f'pb{suffix}@{DOMAIN}/py', 'pw', register=True).start(port)
    await a['xep_0060'].create_node(PUBSUB, node, timeout=TIMEOUT)
    await b['xep_0060'].subscribe(PUBSUB, node, timeout=TIMEOUT)
    payload = ET.fromstring("<entry xmlns='urn:example:py'><v>42</v></entry>")
    await a['xep_0060'].publish(PUBSUB, node, id='py-1', payload=payload, timeout=TIMEOUT)
    ev = await asyncio.wait_for(b.events.get(), TIMEOUT)
    item = ev['pubsub_event']['items']['item']
    out['event_id'] = item['id']
    out['event_payload'] = item['payload'].find('{urn:example:py}v').text
    items = await b['xep_0060'].get_items(PUBSUB, node, timeout=TIMEOUT)
    out['items'] = [i['id'] for i in items['pubsub']['items']]
    nodes = await b['xep_0030'].get_items(jid=PUBSUB, timeout=TIMEOUT)
    out['listed'] = any(i[1] == node for i in nodes['disco_items']['items'])
    await b['xep_0060'].unsubscribe(PUBSUB, node, timeout=TIMEOUT)
    await a['xep_0060'].delete_node(PUBSUB, node, timeout=TIMEOUT)
    out['deleted'] = True
    for x in (a, b):
        x.disconnect()
    return out


async def login(port, mech, user, password):
    c = Client('%s@%s/sx' % (user, DOMAIN), password)
    c['feature_mechanisms'].use_mech = mech
    try:
        await c.start(port)
        ok = True
    except Exception:  # noqa: BLE001 - a refused login is the answer
        ok = False
    c.disconnect()
    return {'ok': ok, 'mech': mech}


async def external(port, user, cert, key, ca):
    c = Client('%s@%s/sx' % (user, DOMAIN), None)
    c['feature_mechanisms'].use_mech = 'EXTERNAL'
    c.certfile, c.keyfile, c.ca_certs = cert, key, ca
    refused = lambda *_: c.started.done() or c.started.set_exception(RuntimeError('refused'))  # noqa: E731
    for event in ('no_auth', 'failed_all_auth', 'disconnected'):
        c.add_event_handler(event, refused)
    c.connect(('127.0.0.1', port), use_ssl=False, force_starttls=True, disable_starttls=False)
    try:
        await asyncio.wait_for(c.started, TIMEOUT)
        ok = True
    except Exception:  # noqa: BLE001 - a refused login is the answer
        ok = False
    jid = str(c.boundjid) if ok else None
    c.disconnect()
    return {'ok': ok, 'jid': jid}


async def wait_for(queue, pred):
    while True:
        item = await queue.get()
        if pred(item):
            return item


def main():
    logging.basicConfig(level=getattr(logging, __import__("os").environ.get("SX_LOG", "ERROR")))
    scenario, port = sys.argv[1], int(sys.argv[2])
    loop = asyncio.get_event_loop()
    fn = {'im': im, 'pubsub': pubsub, 'login': login, 'external': external}[scenario]
    result = loop.run_until_complete(asyncio.wait_for(fn(port, *sys.argv[3:]), 60))
    loop.run_until_complete(asyncio.sleep(0.2))
    print(json.dumps(result))


if __name__ == '__main__':
    main()
