import assert from 'node:assert/strict';
import { jetstream, jetstreamManager, type JetStreamClient, type PubAck } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { requireNatsServer, startNatsCluster, type TestNatsCluster } from '../support/nats-cluster.js';

/** Publishes with a message id until one attempt is acknowledged (retries are deduplicated by the id). */
async function publishUntilAcked(js: JetStreamClient, subject: string, data: string, msgID: string, timeoutMs = 30000): Promise<PubAck> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await js.publish(subject, data, { msgID, timeout: 2000 });
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}

describe('cluster/nats fixture: a 3-server JetStream cluster', function () {
  this.timeout(120000);
  let nats: TestNatsCluster | undefined;
  let nc: NatsConnection | undefined;

  before(requireNatsServer);
  before(async () => {
    nats = await startNatsCluster({ servers: 3 });
    nc = await connect({ servers: nats.urls, maxReconnectAttempts: -1, reconnectTimeWait: 200 });
  });
  after(async () => {
    await nc?.close();
    await nats?.stop();
  });

  it('keeps an R3 stream writable through the SIGKILL of its leader and resyncs the restarted server', async () => {
    const cluster = nats!;
    assert.equal(cluster.urls.length, 3);
    for (const url of cluster.urls) assert.match(url, /^nats:\/\/127\.0\.0\.1:\d+$/);
    const jsm = await jetstreamManager(nc!);
    const js = jetstream(nc!);
    const created = await jsm.streams.add({ name: 'FIXTURE', subjects: ['fixture.>'], num_replicas: 3 });
    assert.equal(created.config.num_replicas, 3);
    assert.equal(created.cluster?.replicas?.length, 2, 'a leader and two followers');

    const first = await publishUntilAcked(js, 'fixture.a', 'one', 'm1');
    assert.equal(first.seq, 1);

    const leader = (await jsm.streams.info('FIXTURE')).cluster!.leader!;
    const victim = Number(/^nats-(\d+)$/.exec(leader)![1]) - 1;
    assert.equal(await cluster.kill(victim), null, 'ended by the signal');

    // Two of three servers are a quorum: a new leader takes the write.
    const second = await publishUntilAcked(js, 'fixture.b', 'two', 'm2');
    assert.equal(second.seq, 2);
    assert.equal(second.duplicate, false);
    const during = await jsm.streams.info('FIXTURE');
    assert.equal(during.state.messages, 2);
    assert.notEqual(during.cluster!.leader, leader);
    assert.equal(during.cluster!.replicas!.find((r) => r.name === leader)?.current, false, 'the killed server is not current');

    await cluster.restart(victim);
    const deadline = Date.now() + 30000;
    for (;;) {
      const info = await jsm.streams.info('FIXTURE');
      const caughtUp = info.cluster?.leader === leader || info.cluster?.replicas?.some((r) => r.name === leader && r.current && !r.lag);
      if (caughtUp) break;
      assert.ok(Date.now() < deadline, `${leader} did not catch up: ${JSON.stringify(info.cluster)}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const got = await jsm.streams.getMessage('FIXTURE', { seq: 2 });
    assert.equal(got?.string(), 'two');
    const third = await publishUntilAcked(js, 'fixture.c', 'three', 'm3');
    assert.equal(third.seq, 3);
  });
});
