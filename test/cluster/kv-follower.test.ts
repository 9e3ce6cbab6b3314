/**
 * KvFollower.caughtUp (plugins/cluster/resilient.ts): what another connection wrote to the bucket
 * and had acknowledged is delivered to the follower before caughtUp() resolves. This is what lets a
 * node read its peers' writes (an MQTT client that reconnects on another node finds its session).
 */
import assert from 'node:assert/strict';
import { Kvm, KvWatchInclude, type KV } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { pino } from 'pino';
import { KvFollower } from '../../plugins/cluster/resilient.js';
import { requireNatsServer, startNatsCluster, type TestNatsCluster } from '../support/nats-cluster.js';

describe('cluster: KvFollower.caughtUp', function () {
  this.timeout(60000);
  before(requireNatsServer);
  let nats: TestNatsCluster;
  let reader: NatsConnection;
  let writer: NatsConnection;
  let readerKv: KV;
  let writerKv: KV;
  const followers: KvFollower[] = [];

  before(async () => {
    nats = await startNatsCluster({ servers: 3 });
    // Two connections to two different servers: the follower's watch and the writes travel apart.
    reader = await connect({ servers: nats.urls[0] });
    writer = await connect({ servers: nats.urls[1] });
    writerKv = await new Kvm(writer).create('follower-test', { replicas: 3, history: 1, allow_direct: false });
    readerKv = await new Kvm(reader).open('follower-test');
  });
  after(async () => {
    for (const f of followers) f.stop();
    await reader?.close();
    await writer?.close();
    await nats?.stop();
  });

  async function follow(): Promise<{ seen: Map<string, string>; follower: KvFollower }> {
    const seen = new Map<string, string>();
    const follower = new KvFollower(readerKv, {
      include: KvWatchInclude.UpdatesOnly, what: 'test', log: pino({ level: 'silent' }),
      onEntry: (e) => { seen.set(e.key, e.string()); },
    });
    await follower.start();
    followers.push(follower);
    return { seen, follower };
  }

  it('resolves at once on a bucket that has not changed since the watch started', async () => {
    await writerKv.put('before', 'x');
    const { seen, follower } = await follow();
    await follower.caughtUp(5000);
    assert.equal(seen.size, 0, 'a write before the watch is not delivered (the caller reads it)');
  });

  it('resolves only once every write acknowledged before the call has been delivered', async () => {
    const { seen, follower } = await follow();
    for (let round = 0; round < 5; round++) {
      await Promise.all(Array.from({ length: 100 }, (_, i) => writerKv.put(`k${i}`, `r${round}`)));
      await follower.caughtUp(5000);
      for (let i = 0; i < 100; i++) assert.equal(seen.get(`k${i}`), `r${round}`, `k${i} after round ${round}`);
    }
  });

  it('callers that ask together share one request and all catch up', async () => {
    const { seen, follower } = await follow();
    await writerKv.put('shared', 'last');
    await Promise.all(Array.from({ length: 20 }, () => follower.caughtUp(5000)));
    assert.equal(seen.get('shared'), 'last');
  });
});
