/**
 * XMPP across the nodes of a cluster (docs/cluster.md "XMPP"): presence subscriptions, roster
 * pushes, presence and chat between users connected to different nodes, offline messages picked
 * up on a third node, pubsub with the node created, subscribed and published on three different
 * nodes, and a node killed under its users. Three nats-servers, three Junction node processes,
 * @xmpp/client. Accounts come from one users file given to every node.
 *
 * Then, in one process, node 1 of a pretend two-node cluster whose other node the test plays
 * (metadata changes and inbox messages): what the inbox accepts, how node 2's presence records
 * reach local contacts and where messages for node 2's users go; and that a single node writes no
 * presence record and has no inbox.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Client, XmlElement } from '@xmpp/client';
import type { ClusterView } from '../../core/cluster.js';
import { createMessage, type Message } from '../../core/message.js';
import { MemoryStore } from '../../core/storage/memory-store.js';
import type { RemoteChange } from '../../core/store.js';
import { createUserRecord } from '../../plugins/auth/passwords.js';
import { removeTempDir, tempDir } from '../support/broker.js';
import { startJunctionProcess, type JunctionProcess } from '../support/junction-process.js';
import { requireNatsServer, startNatsCluster, type TestNatsCluster } from '../support/nats-cluster.js';
import { type Harness, login, nextStanza, startXmpp, stopAll, xmlEl } from '../xmpp/helpers.js';
import { eventually } from '../support/index.js';

const CLUSTER_ARGS = ['--set', 'cluster.heartbeatMs=250', '--set', 'cluster.nodeTimeoutMs=2000'];
const ROSTER = 'jabber:iq:roster';
const PUBSUB = 'pubsub.localhost';
const NS_PUBSUB = 'http://jabber.org/protocol/pubsub';
const NS_EVENT = 'http://jabber.org/protocol/pubsub#event';

/** The same users file on every node, as a cluster is configured alike. */
async function usersFile(dir: string, users: string[]): Promise<string> {
  const doc: Record<string, unknown> = {};
  for (const u of users) doc[u] = await createUserRecord(`${u}-pw`, { N: 1024, scramIterations: 4096 });
  const path = join(dir, 'users.yaml');
  writeFileSync(path, JSON.stringify({ users: doc }));
  return path;
}

/** Resolves with the next stanza matching `pred`; the timeout names `what`. */
function expect(c: Client, pred: (s: XmlElement) => boolean, what: string, ms = 15000): Promise<XmlElement> {
  return nextStanza(c, pred, ms).catch(() => { throw new Error(`timed out waiting for ${what}`); });
}

const isPresence = (from: string, type?: string) => (s: XmlElement) => s.name === 'presence' && s.attrs.from === from && s.attrs.type === type;
const rosterPush = (jid: string, subscription: string) => (s: XmlElement) =>
  s.name === 'iq' && s.attrs.type === 'set' && s.getChild('query', ROSTER)?.getChild('item')?.attrs.jid === jid
  && s.getChild('query', ROSTER)?.getChild('item')?.attrs.subscription === subscription;
const isChat = (body: string) => (s: XmlElement) => s.name === 'message' && s.getChildText('body') === body;

describe('cluster: XMPP', function () {
  this.timeout(180000);
  before(requireNatsServer);
  let nats: TestNatsCluster;
  let procs: JunctionProcess[] = [];
  const clients: Client[] = [];
  const track = (c: Client) => { clients.push(c); return c; };
  const dir = tempDir('junction-xmpp-cluster-');
  /**
   * Logs in on `node` (1-3). @xmpp/client announces it is online at the bind result, before its
   * stream management is enabled: stanzas that reach it in between may be counted as received
   * after <enabled/> and over-acknowledged (a stream error), so this waits for <enabled/> first.
   */
  const loginOn = async (node: number, user: string, resource: string, presence = false) => {
    const c = track(await login(procs[node - 1].ports.xmpp, user, `${user}-pw`, { resource }));
    await eventually(() => (c as unknown as { streamManagement: { enabled: boolean } }).streamManagement.enabled, { timeout: 5000, what: 'stream management enabled' });
    if (presence) await c.send(xmlEl('presence'));
    return c;
  };

  before(async () => {
    nats = await startNatsCluster({ servers: 3 });
    const args = [...CLUSTER_ARGS, '--set', `auth.usersFile=${await usersFile(dir, ['alice', 'bob', 'carol'])}`];
    for (const id of [1, 2, 3]) procs.push(await startJunctionProcess({ cluster: nats.urls, nodeId: id, args }));
  });
  afterEach(function () {
    // The nodes' last log lines, to see why a test failed.
    if (this.currentTest?.state === 'failed') for (const p of procs) process.stderr.write(`--- ${p.node.spec.name}\n${p.output().slice(-4000)}\n`);
  });
  after(async () => {
    await stopAll(...clients.splice(0));
    for (const p of procs) await p.stop().catch(() => undefined);
    procs = [];
    await nats?.stop();
    removeTempDir(dir);
  });

  let alice: Client;
  let bob: Client;

  it('users on two nodes subscribe to each other: requests, approvals, roster pushes and presence cross nodes', async () => {
    alice = await loginOn(1, 'alice', 'a1');
    bob = await loginOn(2, 'bob', 'b1');
    await alice.iqCaller.get(xmlEl('query', { xmlns: ROSTER }));
    await bob.iqCaller.get(xmlEl('query', { xmlns: ROSTER }));
    await alice.send(xmlEl('presence'));
    await bob.send(xmlEl('presence'));

    // alice asks at once: the request reaches bob on node 2 (through his roster record, which
    // node 2 sees change), even before node 1 knows where bob is.
    const request = expect(bob, isPresence('alice@localhost', 'subscribe'), 'bob: subscribe from alice');
    await alice.send(xmlEl('presence', { to: 'bob@localhost', type: 'subscribe' }));
    assert.equal((await request).attrs.to, 'bob@localhost');

    // bob approves on node 2: alice gets "subscribed", a roster push from node 2's write, and bob's presence.
    const subscribed = expect(alice, isPresence('bob@localhost', 'subscribed'), 'alice: subscribed from bob');
    const pushA = expect(alice, rosterPush('bob@localhost', 'to'), 'alice: roster push bob=to');
    const bobPresence = expect(alice, isPresence('bob@localhost/b1'), 'alice: presence of bob/b1');
    await bob.send(xmlEl('presence', { to: 'alice@localhost', type: 'subscribed' }));
    await Promise.all([subscribed, pushA, bobPresence]);

    // And the other way round: bob subscribes to alice, alice approves on node 1.
    const request2 = expect(alice, isPresence('bob@localhost', 'subscribe'), 'alice: subscribe from bob');
    await bob.send(xmlEl('presence', { to: 'alice@localhost', type: 'subscribe' }));
    await request2;
    const subscribed2 = expect(bob, isPresence('alice@localhost', 'subscribed'), 'bob: subscribed from alice');
    const pushB = expect(bob, rosterPush('alice@localhost', 'both'), 'bob: roster push alice=both');
    const alicePresence = expect(bob, isPresence('alice@localhost/a1'), 'bob: presence of alice/a1');
    await alice.send(xmlEl('presence', { to: 'bob@localhost', type: 'subscribed' }));
    await Promise.all([subscribed2, pushB, alicePresence]);

    const roster = await alice.iqCaller.get(xmlEl('query', { xmlns: ROSTER }));
    assert.equal(roster.getChildren('item').find((i) => i.attrs.jid === 'bob@localhost')?.attrs.subscription, 'both');

    // A presence change on node 1 reaches bob on node 2.
    const away = expect(bob, (s) => s.name === 'presence' && s.attrs.from === 'alice@localhost/a1' && s.getChildText('show') === 'away', 'bob: alice away');
    await alice.send(xmlEl('presence', null, xmlEl('show', null, 'away'), xmlEl('status', null, 'at lunch')));
    assert.equal((await away).getChildText('status'), 'at lunch');
  });

  it('chats both ways between nodes, by bare and full JID, and answers an IQ across nodes', async () => {
    const toBob = expect(bob, isChat('hello from node 1'), 'bob: chat');
    await alice.send(xmlEl('message', { to: 'bob@localhost', type: 'chat', id: 'm1' }, xmlEl('body', null, 'hello from node 1')));
    const m1 = await toBob;
    assert.equal(m1.attrs.from, 'alice@localhost/a1');
    assert.equal(m1.attrs.id, 'm1');

    const toAlice = expect(alice, isChat('hello from node 2'), 'alice: chat');
    await bob.send(xmlEl('message', { to: 'alice@localhost/a1', type: 'chat' }, xmlEl('body', null, 'hello from node 2')));
    assert.equal((await toAlice).attrs.from, 'bob@localhost/b1');

    // An IQ to a full JID on another node reaches that client; its answer comes back.
    bob.on('stanza', (s: XmlElement) => {
      if (s.name === 'iq' && s.attrs.type === 'get' && s.getChild('query', 'urn:junction:test')) {
        void bob.send(xmlEl('iq', { type: 'result', id: s.attrs.id, to: s.attrs.from }, xmlEl('query', { xmlns: 'urn:junction:test' }, xmlEl('answer', null, 'from node 2'))));
      }
    });
    const answer = await alice.iqCaller.get(xmlEl('query', { xmlns: 'urn:junction:test' }), 'bob@localhost/b1');
    assert.equal(answer.getChildText('answer'), 'from node 2');
    // A full JID that is not online anywhere: service-unavailable.
    await assert.rejects(alice.iqCaller.get(xmlEl('query', { xmlns: 'urn:junction:test' }), 'bob@localhost/nowhere'), /service-unavailable/);
  });

  it('a user with resources on two nodes: her resources see each other come online, roster pushes and messages reach both', async () => {
    const a3 = await loginOn(3, 'alice', 'a3');
    await a3.iqCaller.get(xmlEl('query', { xmlns: ROSTER }));
    const ownOn1 = expect(alice, isPresence('alice@localhost/a3'), 'alice/a1: presence of her resource a3 on node 3');
    const bobSees = expect(bob, isPresence('alice@localhost/a3'), 'bob: presence of alice/a3');
    await a3.send(xmlEl('presence'));
    await Promise.all([ownOn1, bobSees]);

    // A roster change made on node 1 is pushed to the resource on node 3.
    const push = expect(a3, (s) => s.name === 'iq' && s.attrs.type === 'set' && s.getChild('query', ROSTER)?.getChild('item')?.attrs.name === 'Bobby', 'alice/a3: roster push');
    await alice.iqCaller.set(xmlEl('query', { xmlns: ROSTER }, xmlEl('item', { jid: 'bob@localhost', name: 'Bobby' })));
    const item = (await push).getChild('query', ROSTER)!.getChild('item')!;
    assert.equal(item.attrs.subscription, 'both');

    // A chat to the bare JID reaches both resources, on nodes 1 and 3.
    const on1 = expect(alice, isChat('to both'), 'alice/a1: chat to the bare JID');
    const on3 = expect(a3, isChat('to both'), 'alice/a3: chat to the bare JID');
    await bob.send(xmlEl('message', { to: 'alice@localhost', type: 'chat' }, xmlEl('body', null, 'to both')));
    await Promise.all([on1, on3]);

    const gone = expect(bob, isPresence('alice@localhost/a3', 'unavailable'), 'bob: alice/a3 unavailable');
    await stopAll(a3);
    await gone;
  });

  it('keeps a message for a user who left node 2 and delivers it at login on node 3', async () => {
    const gone = expect(alice, isPresence('bob@localhost/b1', 'unavailable'), 'alice: bob/b1 unavailable');
    await stopAll(bob);
    await gone;
    await alice.send(xmlEl('message', { to: 'bob@localhost', type: 'chat', id: 'off1' }, xmlEl('body', null, 'while you were away')));

    const bob3 = await loginOn(3, 'bob', 'b3');
    const offline = expect(bob3, isChat('while you were away'), 'bob on node 3: the offline message');
    // bob comes online on node 3: alice (node 1) sees it, and he gets what waited.
    const back = expect(alice, isPresence('bob@localhost/b3'), 'alice: presence of bob/b3');
    await bob3.send(xmlEl('presence'));
    const m = await offline;
    assert.equal(m.attrs.from, 'alice@localhost/a1');
    assert.ok(m.getChild('delay', 'urn:xmpp:delay'), 'offline delivery carries a delay stamp');
    await back;
    bob = bob3;
  });

  it('pubsub: a node created on node 1, subscribed on node 2, gets an item published on node 3', async () => {
    await alice.iqCaller.set(xmlEl('pubsub', { xmlns: NS_PUBSUB }, xmlEl('create', { node: 'cluster.news' })), PUBSUB);
    const carol = await loginOn(2, 'carol', 'c2', true);
    await eventually(async () => {
      // The node's record travels from node 1 to node 2.
      const sub = await carol.iqCaller.set(xmlEl('pubsub', { xmlns: NS_PUBSUB }, xmlEl('subscribe', { node: 'cluster.news', jid: 'carol@localhost' })), PUBSUB);
      return sub.getChild('subscription')?.attrs.subscription === 'subscribed';
    }, { timeout: 20000, what: 'carol subscribed on node 2' });
    const event = nextStanza(carol, (s) => s.name === 'message' && s.getChild('event', NS_EVENT)?.getChild('items')?.attrs.node === 'cluster.news', 30000);
    const published: string[] = [];
    let received = false;
    void event.then(() => { received = true; }, () => undefined);
    // Published on node 3 (bob) until carol's subscription (a binding of her shared queue) has reached node 3.
    await eventually(async () => {
      if (received) return true;
      const id = `item-${published.length}`;
      published.push(id);
      await bob.iqCaller.set(xmlEl('pubsub', { xmlns: NS_PUBSUB }, xmlEl('publish', { node: 'cluster.news' },
        xmlEl('item', { id }, xmlEl('entry', { xmlns: 'http://www.w3.org/2005/Atom' }, xmlEl('title', null, `news ${id}`))))), PUBSUB);
      await new Promise((r) => setTimeout(r, 300));
      return received;
    }, { timeout: 30000, what: 'an item published on node 3 reaches carol on node 2' });
    const item = (await event).getChild('event', NS_EVENT)!.getChild('items')!.getChild('item')!;
    assert.ok(published.includes(item.attrs.id), `the notified item ${item.attrs.id} is one published on node 3`);
    assert.equal(item.getChild('entry', 'http://www.w3.org/2005/Atom')!.getChildText('title'), `news ${item.attrs.id}`);
  });

  it('a node killed with SIGKILL: its users go unavailable for contacts elsewhere, and messages to them wait offline', async () => {
    const gone = expect(alice, isPresence('bob@localhost/b3', 'unavailable'), 'alice: bob/b3 unavailable after node 3 died', 30000);
    await procs[2].kill('SIGKILL');
    await gone;
    await alice.send(xmlEl('message', { to: 'bob@localhost', type: 'chat' }, xmlEl('body', null, 'your node went down')));
    const bob2 = await loginOn(2, 'bob', 'b2');
    const kept = expect(bob2, isChat('your node went down'), 'bob on node 2: the message sent while his node was down');
    await bob2.send(xmlEl('presence'));
    assert.equal((await kept).attrs.from, 'alice@localhost/a1');
    await procs[2].restart();
  });
});

/** A MemoryStore that lets the test play the other nodes' metadata changes. */
class PeerMetadataStore extends MemoryStore {
  private listener: ((c: RemoteChange) => void) | null = null;
  onRemoteChange(listener: (c: RemoteChange) => void): void {
    this.listener = listener;
  }
  remote(ns: string, key: string, value: unknown): void {
    this.listener!({ ns, key, value: value === undefined ? undefined : Buffer.from(JSON.stringify(value), 'utf8') });
  }
}

/** Node 1 of a pretend cluster of nodes 1 and 2 (no NATS: what crosses nodes is played by the test). */
function twoNodeView(): ClusterView {
  const node = (id: number) => ({ id, endpoints: {}, startedAt: 0 });
  return {
    nodeId: 1, clustered: true, maxReplicationFactor: 1,
    nodes: () => [node(1), node(2)],
    placement: () => ({ leader: 1, epoch: 0, replicas: [1], isr: [1] }),
    coordinator: () => 1,
  };
}

describe('cluster: XMPP hub with a simulated second node', function () {
  this.timeout(30000);
  let store: PeerMetadataStore;
  let h: Harness;
  const clients: Client[] = [];
  const track = (c: Client) => { clients.push(c); return c; };

  beforeEach(async () => {
    store = new PeerMetadataStore();
    h = await startXmpp({ store, coreOptions: { cluster: twoNodeView() } });
  });
  afterEach(async () => {
    await stopAll(...clients.splice(0));
    await h.close();
  });

  it('takes into its inbox only what another node\'s XMPP hub routed, not messages of other protocols', async () => {
    const alice = track(await login(h.port, 'alice', 'alice-pw', { resource: 'a1', presence: true }));
    assert.equal(h.broker.getQueue('xmpp.node.1')?.options.exclusiveOwner?.startsWith('xmpp-hub-'), true, 'the inbox is exclusive to the hub');
    const stanza = (body: string) => Buffer.from(`<message xmlns='jabber:client' from='bob@localhost/b2' to='alice@localhost/a1' type='chat'><body>${body}</body></message>`);
    const annotations = { 'xmpp.route': 'message', 'xmpp.route-to': 'alice@localhost/a1', 'xmpp.route-origin': 2 };
    const got: string[] = [];
    alice.on('stanza', (s: XmlElement) => { if (s.name === 'message') got.push(s.getChildText('body') ?? ''); });
    await h.broker.sendToQueue('xmpp.node.1', createMessage({ topic: 'xmpp.node.1', payload: stanza('forged'), source: 'stomp', annotations }));
    await h.broker.sendToQueue('xmpp.node.1', createMessage({ topic: 'xmpp.node.1', payload: stanza('no route'), source: 'xmpp' }));
    await h.broker.sendToQueue('xmpp.node.1', createMessage({ topic: 'xmpp.node.1', payload: stanza('routed'), source: 'xmpp', annotations }));
    await eventually(() => got.includes('routed'), { timeout: 5000, what: 'the routed message' });
    assert.deepEqual(got, ['routed'], 'only the routed message is delivered, in order after the others were dropped');
  });

  it('follows node 2\'s presence records: presence and unavailable to subscribers here, messages into node 2\'s inbox', async () => {
    await h.broker.metadata.putJson('xmpp-roster', 'bob@localhost', {
      items: { 'alice@localhost': { jid: 'alice@localhost', groups: [], subscription: 'both' } }, pending: {}, ver: 1,
    });
    await h.broker.metadata.putJson('xmpp-roster', 'alice@localhost', {
      items: { 'bob@localhost': { jid: 'bob@localhost', groups: [], subscription: 'both' } }, pending: {}, ver: 1,
    });
    const alice = track(await login(h.port, 'alice', 'alice-pw', { resource: 'a1', presence: true }));
    await eventually(() => h.broker.metadata.has('xmpp-presence', 'alice@localhost\u00001'), { timeout: 5000, what: 'alice recorded as available on node 1' });

    const online = expect(alice, (s) => s.name === 'presence' && s.attrs.from === 'bob@localhost/b2' && s.getChildText('status') === 'on node 2', 'bob online');
    store.remote('xmpp-presence', 'bob@localhost\u00002', { r: { b2: { p: 0, x: "<presence xmlns='jabber:client' from='bob@localhost/b2'><status>on node 2</status></presence>" } } });
    assert.equal((await online).attrs.to, 'alice@localhost');

    // A chat for bob goes to node 2's inbox (here a queue the test reads), with its addressee.
    const inbox2 = await h.broker.declareQueue('xmpp.node.2', { durable: false });
    const routed = new Promise<Message>((resolve) => inbox2.consume({ prefetch: 1, autoAck: true, creditMode: false }, (d) => resolve(d.message)));
    await alice.send(xmlEl('message', { to: 'bob@localhost', type: 'chat' }, xmlEl('body', null, 'to node 2')));
    const m = await routed;
    assert.equal(m.source, 'xmpp');
    assert.equal(m.annotations?.['xmpp.route'], 'message');
    assert.equal(m.annotations?.['xmpp.route-to'], 'bob@localhost');
    assert.match(m.payload.toString(), /<body>to node 2<\/body>/);
    assert.equal(h.broker.getQueue('xmpp.offline.bob@localhost'), undefined, 'not stored offline');

    const offline = expect(alice, isPresence('bob@localhost/b2', 'unavailable'), 'bob unavailable');
    store.remote('xmpp-presence', 'bob@localhost\u00002', undefined);
    await offline;
    // Now bob is nowhere: the next chat is kept offline.
    await alice.send(xmlEl('message', { to: 'bob@localhost', type: 'chat' }, xmlEl('body', null, 'kept')));
    await eventually(() => (h.broker.getQueue('xmpp.offline.bob@localhost')?.messageCount ?? 0) === 1, { timeout: 5000, what: 'the chat stored offline' });
  });

  it('a single node writes no presence record and has no inbox', async () => {
    const single = await startXmpp();
    try {
      const c = await login(single.port, 'alice', 'alice-pw', { presence: true });
      await c.send(xmlEl('message', { to: 'alice@localhost', type: 'chat' }, xmlEl('body', null, 'me')));
      await stopAll(c);
      assert.equal(single.broker.metadata.entries('xmpp-presence').size, 0);
      assert.equal([...single.broker.queues()].some((q) => q.name.startsWith('xmpp.node.')), false);
    } finally {
      await single.close();
    }
  });
});
