/** Consumer groups: the coordinator's state machine, and kafkajs groups sharing, rebalancing and resuming. */
import assert from 'node:assert/strict';
import { ConsumerGroup, type JoinRequest, type JoinResult } from '../../adapters/kafka/group/consumer-group.js';
import { ErrorCode } from '../../adapters/kafka/protocol/errors.js';
import { MemoryStore } from '../../core/storage/memory-store.js';
import { kafkajs, startKafka, type KafkaTestBroker } from './support.js';
import { eventually } from '../support/index.js';

const meta = (s: string) => Buffer.from(s);
function joinReq(memberId: string, protocols = ['range', 'roundrobin'], extra: Partial<JoinRequest> = {}): JoinRequest {
  return {
    memberId, groupInstanceId: null, clientId: 'c', clientHost: '/127.0.0.1', sessionTimeoutMs: 10000, rebalanceTimeoutMs: 10000,
    protocolType: 'consumer', protocols: protocols.map((name) => ({ name, metadata: meta(`${memberId}:${name}`) })), requireKnownMemberId: true, ...extra,
  };
}

describe('kafka: consumer group state machine', () => {
  let g: ConsumerGroup;
  beforeEach(() => { g = new ConsumerGroup('g', { initialRebalanceDelayMs: 0 }); });
  afterEach(() => g.shutdown(ErrorCode.COORDINATOR_NOT_AVAILABLE));

  it('requires a member id from v4, elects a leader, completes sync, then rebalances for a newcomer', async () => {
    const first = await g.join(joinReq(''));
    assert.equal(first.errorCode, ErrorCode.MEMBER_ID_REQUIRED);
    const a = await g.join(joinReq(first.memberId));
    assert.deepEqual([a.errorCode, a.generationId, a.leader, a.protocolName, a.members.length], [0, 1, first.memberId, 'range', 1]);
    assert.equal(g.state, 'CompletingRebalance');
    assert.equal(g.heartbeat(a.memberId, 1), ErrorCode.NONE);
    const syncA = await g.sync(a.memberId, 1, [{ memberId: a.memberId, assignment: meta('all') }], null, null);
    assert.deepEqual([syncA.errorCode, syncA.assignment.toString(), g.state], [0, 'all', 'Stable']);

    // kafka-python style (v2): no MEMBER_ID_REQUIRED round trip
    const joinB = g.join(joinReq('', ['range'], { requireKnownMemberId: false }));
    assert.equal(g.state, 'PreparingRebalance');
    assert.equal(g.heartbeat(a.memberId, 1), ErrorCode.REBALANCE_IN_PROGRESS);
    assert.equal(g.commitError(a.memberId, 1), ErrorCode.NONE, 'commits of the previous generation are accepted while rebalancing');
    const rejoinA = await g.join(joinReq(a.memberId));
    const joinedB = await joinB;
    assert.deepEqual([rejoinA.generationId, joinedB.generationId, rejoinA.protocolName], [2, 2, 'range']);
    assert.equal(rejoinA.members.length, 2, 'the leader stays leader and sees both');
    assert.equal(joinedB.members.length, 0);
    const followerSync = g.sync(joinedB.memberId, 2, [], null, null);
    assert.ok(followerSync instanceof Promise, 'a follower waits for the leader');
    assert.equal(g.commitError(a.memberId, 2), ErrorCode.REBALANCE_IN_PROGRESS);
    await g.sync(a.memberId, 2, [{ memberId: a.memberId, assignment: meta('p0') }, { memberId: joinedB.memberId, assignment: meta('p1') }], 'consumer', 'range');
    assert.equal((await followerSync).assignment.toString(), 'p1');
    assert.equal(g.heartbeat(joinedB.memberId, 1), ErrorCode.ILLEGAL_GENERATION);
    assert.equal(g.heartbeat('stranger', 2), ErrorCode.UNKNOWN_MEMBER_ID);
    assert.equal(g.commitError(joinedB.memberId, 1), ErrorCode.ILLEGAL_GENERATION);
    assert.equal(g.commitError('', -1), ErrorCode.UNKNOWN_MEMBER_ID, 'a simple consumer may not commit into a live group');

    assert.equal(g.leave(a.memberId), ErrorCode.NONE);
    assert.equal(g.heartbeat(joinedB.memberId, 2), ErrorCode.REBALANCE_IN_PROGRESS);
    const alone = await g.join(joinReq(joinedB.memberId, ['range']));
    assert.deepEqual([alone.generationId, alone.leader], [3, joinedB.memberId]);
  });

  it('refuses members without a common protocol and unknown member ids', async () => {
    const a = await g.join(joinReq('', ['range'], { requireKnownMemberId: false }));
    assert.equal(a.errorCode, ErrorCode.NONE);
    const b = await g.join(joinReq('', ['RoundRobinAssigner'], { requireKnownMemberId: false }));
    assert.equal(b.errorCode, ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    const c = await g.join(joinReq('ghost', ['range']));
    assert.equal(c.errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
    const d = await g.join({ ...joinReq('', ['range'], { requireKnownMemberId: false }), protocolType: 'connect' });
    assert.equal(d.errorCode, ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
  });

  it('picks the protocol most members list first among those all support', async () => {
    const joins: Array<Promise<JoinResult> | JoinResult> = [];
    g = new ConsumerGroup('g', { initialRebalanceDelayMs: 30 });
    joins.push(g.join(joinReq('', ['range', 'roundrobin'], { requireKnownMemberId: false })));
    joins.push(g.join(joinReq('', ['roundrobin', 'range'], { requireKnownMemberId: false })));
    joins.push(g.join(joinReq('', ['roundrobin', 'sticky', 'range'], { requireKnownMemberId: false })));
    const results = await Promise.all(joins);
    assert.deepEqual(results.map((r) => [r.generationId, r.protocolName]), [[1, 'roundrobin'], [1, 'roundrobin'], [1, 'roundrobin']]);
    assert.equal(results.filter((r) => r.members.length === 3).length, 1, 'one leader');
  });

  it('completes a rebalance without members that do not rejoin within the rebalance timeout', async () => {
    const a = await g.join(joinReq('', ['range'], { requireKnownMemberId: false, rebalanceTimeoutMs: 200 }));
    await g.sync(a.memberId, 1, [], null, null);
    const b2 = g.join(joinReq('', ['range'], { requireKnownMemberId: false, rebalanceTimeoutMs: 200 }));
    // a never rejoins: after the rebalance timeout the new member forms generation 2 alone
    const joined = await b2;
    assert.deepEqual([joined.errorCode, joined.generationId, joined.leader === joined.memberId, joined.members.length], [0, 2, true, 1]);
    assert.equal(g.heartbeat(a.memberId, 1), ErrorCode.UNKNOWN_MEMBER_ID);
  });

  it('drops a member whose session expires and rebalances', async () => {
    const a = await g.join(joinReq('', ['range'], { requireKnownMemberId: false, sessionTimeoutMs: 60 }));
    await g.sync(a.memberId, a.generationId, [], null, null);
    await eventually(() => g.state === 'Empty', { timeout: 5000, what: 'session expiry' });
    assert.equal(g.members.size, 0);
    assert.equal(g.commitError('', -1), ErrorCode.NONE, 'an empty group takes simple commits');
  });
});

describe('kafka: kafkajs consumer groups', function () {
  this.timeout(90000);
  let b: KafkaTestBroker;
  afterEach(async () => { await b?.close(); });

  it('two consumers of one group share the partitions and one takes over when the other leaves', async () => {
    b = await startKafka({ kafka: { groupInitialRebalanceDelayMs: 300 } });
    const k = kafkajs(b.bootstrap);
    const admin = k.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'shared', numPartitions: 4 }] });
    const producer = k.producer();
    await producer.connect();
    const assigned = new Map<string, number[]>();
    const seen = new Map<string, Set<string>>();
    const consumers = ['c1', 'c2'].map((name) => {
      const c = k.consumer({ groupId: 'share', maxWaitTimeInMs: 100, heartbeatInterval: 200, sessionTimeout: 6000 });
      seen.set(name, new Set());
      c.on(c.events.GROUP_JOIN, (e) => { assigned.set(name, (e.payload.memberAssignment.shared ?? []).slice().sort()); });
      return { name, c };
    });
    for (const { name, c } of consumers) {
      await c.connect();
      await c.subscribe({ topic: 'shared', fromBeginning: true });
      await c.run({ eachMessage: async ({ partition, message }) => { seen.get(name)!.add(`${partition}:${message.value}`); } });
    }
    await eventually(() => (assigned.get('c1')?.length ?? 0) + (assigned.get('c2')?.length ?? 0) === 4 && assigned.get('c1')!.length === 2, { timeout: 30000, what: 'both consumers assigned two partitions' });
    assert.deepEqual([...assigned.get('c1')!, ...assigned.get('c2')!].sort(), [0, 1, 2, 3]);
    await producer.send({ topic: 'shared', messages: [0, 1, 2, 3].map((p) => ({ partition: p, value: `first-${p}` })) });
    await eventually(() => seen.get('c1')!.size + seen.get('c2')!.size === 4, { timeout: 20000, what: 'first round consumed' });
    assert.equal(seen.get('c1')!.size, 2);

    await consumers[1].c.disconnect(); // LeaveGroup: c1 takes over everything
    await eventually(() => assigned.get('c1')!.length === 4, { timeout: 30000, what: 'c1 takes all partitions' });
    await producer.send({ topic: 'shared', messages: [0, 1, 2, 3].map((p) => ({ partition: p, value: `second-${p}` })) });
    await eventually(() => [...seen.get('c1')!].filter((s) => s.includes('second')).length === 4, { timeout: 20000, what: 'c1 consumes every partition' });
    const described = await admin.describeGroups(['share']);
    assert.equal(described.groups[0].state, 'Stable');
    assert.equal(described.groups[0].members.length, 1);
    await consumers[0].c.disconnect();
    await producer.disconnect();
    await admin.disconnect();
  });

  it('resumes from committed offsets after a consumer restart and after a broker restart', async () => {
    const store = new MemoryStore();
    b = await startKafka({ store });
    const consumeAll = async (bootstrap: string, expected: number) => {
      const c = kafkajs(bootstrap).consumer({ groupId: 'resume', maxWaitTimeInMs: 100 });
      const got: string[] = [];
      await c.connect();
      await c.subscribe({ topic: 'r', fromBeginning: true });
      await c.run({ eachMessage: async ({ message }) => { got.push(message.value!.toString()); } });
      await eventually(() => got.length >= expected, { timeout: 20000, what: `${expected} records` });
      await new Promise((r) => setTimeout(r, 300)); // anything beyond `expected` would show up here
      await c.disconnect();
      return got;
    };
    const produce = async (bootstrap: string, values: string[]) => {
      const p = kafkajs(bootstrap).producer();
      await p.connect();
      await p.send({ topic: 'r', messages: values.map((value) => ({ value })) });
      await p.disconnect();
    };
    await produce(b.bootstrap, ['a', 'b']);
    assert.deepEqual(await consumeAll(b.bootstrap, 2), ['a', 'b']);
    await produce(b.bootstrap, ['c']);
    assert.deepEqual(await consumeAll(b.bootstrap, 1), ['c'], 'consumer restart resumes after b');
    await b.close();

    b = await startKafka({ store });
    await produce(b.bootstrap, ['d']);
    assert.deepEqual(await consumeAll(b.bootstrap, 1), ['d'], 'broker restart keeps the committed offset');
    const admin = kafkajs(b.bootstrap).admin();
    await admin.connect();
    const [offsets] = await admin.fetchOffsets({ groupId: 'resume', topics: ['r'] });
    assert.deepEqual(offsets.partitions.map((p) => p.offset), ['4']);
    await admin.disconnect();
  });
});
