/**
 * NoRespondersWatch (plugins/cluster/resilient.ts): a connection that landed on a nats-server whose
 * JetStream requests find no responders (a restarted server not back in its cluster yet; here a
 * server without JetStream) moves to another server of the pool, where JetStream answers.
 */
import assert from 'node:assert/strict';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { pino } from 'pino';
import { NoRespondersWatch } from '../../plugins/cluster/resilient.js';
import { Child } from '../../scripts/lib/child.js';
import { findNatsServer } from '../../scripts/lib/nats-server.js';
import { freePorts } from '../../scripts/lib/ports.js';
import { eventually } from '../support/index.js';
import { TEST_HOST } from '../support/broker.js';
import { requireNatsServer, startNatsCluster, type TestNatsCluster } from '../support/nats-cluster.js';

describe('cluster: NoRespondersWatch', function () {
  this.timeout(60000);
  before(requireNatsServer);
  let nats: TestNatsCluster;
  let plain: Child;
  let plainUrl: string;
  let nc: NatsConnection | undefined;

  before(async () => {
    nats = await startNatsCluster({ servers: 3 });
    const [port] = await freePorts(1, TEST_HOST);
    plain = new Child({ name: 'nats-plain', command: findNatsServer()!, args: ['-a', TEST_HOST, '-p', String(port)] });
    plainUrl = `nats://${TEST_HOST}:${port}`;
    await eventually(async () => {
      const probe = await connect({ servers: plainUrl }).catch(() => null);
      await probe?.close();
      return probe !== null;
    }, { timeout: 10000, what: 'the server without JetStream' });
  });
  after(async () => {
    await nc?.close();
    await plain?.stop();
    await nats?.stop();
  });

  it('leaves a server without JetStream responders for the next one, where JetStream answers', async () => {
    nc = await connect({ servers: [plainUrl, ...nats.urls], noRandomize: true, reconnectTimeWait: 100, maxReconnectAttempts: -1 });
    assert.equal(nc.getServer(), plainUrl.replace('nats://', ''));
    const js = jetstream(nc, { timeout: 2000 });
    const watch = new NoRespondersWatch(nc, 300, pino({ level: 'silent' }));
    const failures: string[] = [];
    await eventually(async () => {
      try {
        await js.publish('probe.subject', 'x');
        watch.heartbeat(null);
      } catch (err) {
        failures.push((err as Error).name);
        watch.heartbeat(err);
      }
      return nc!.getServer() !== plainUrl.replace('nats://', '');
    }, { timeout: 20000, what: 'a switch to another server' });
    assert.ok(failures.includes('JetStreamNotEnabled'), `failures: ${failures.join(',')}`);
    const jsm = await jetstreamManager(nc);
    await eventually(async () => (await jsm.getAccountInfo().catch(() => null)) !== null, { timeout: 20000, what: 'JetStream on the new server' });
  });
});
