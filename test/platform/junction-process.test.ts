import assert from 'node:assert/strict';
import { Kafka, logLevel } from 'kafkajs';
import { connect } from 'node:net';
import { removeTempDir, tempDir, TEST_HOST } from '../support/broker.js';
import { startJunctionProcess, type JunctionProcess } from '../support/junction-process.js';

function kafkaAdmin(port: number) {
  return new Kafka({ clientId: 'junction-process-test', brokers: [`${TEST_HOST}:${port}`], logLevel: logLevel.NOTHING, retry: { retries: 3 } }).admin();
}

async function topics(port: number): Promise<string[]> {
  const admin = kafkaAdmin(port);
  await admin.connect();
  try {
    return await admin.listTopics();
  } finally {
    await admin.disconnect();
  }
}

async function status(port: number, path: string): Promise<number> {
  return (await fetch(`http://${TEST_HOST}:${port}${path}`)).status;
}

/** Resolves true when a TCP connection to the port is accepted. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: TEST_HOST, port }, () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

describe('platform/junction-process: a node as a child process', function () {
  this.timeout(90000);
  let dir: string;
  let node: JunctionProcess | undefined;

  before(() => (dir = tempDir()));
  after(async () => {
    await node?.stop();
    removeTempDir(dir);
  });

  it('starts on free ports, survives kill -9 and restarts on the same data directory and ports', async () => {
    // fsync always: what the node acknowledged is on disk when the SIGKILL arrives.
    node = await startJunctionProcess({ dataDir: dir, args: ['--fsync', 'always'] });
    const { ports } = node;
    assert.equal(new Set(Object.values(ports)).size, 6, 'six distinct ports');
    assert.equal(await status(ports.http, '/readyz'), 200);
    for (const p of [ports.mqtt, ports.amqp, ports.stomp, ports.xmpp, ports.kafka]) assert.ok(await accepts(p), `port ${p} accepts`);
    const firstPid = node.node.pid;
    const admin = kafkaAdmin(ports.kafka);
    await admin.connect();
    assert.equal(await admin.createTopics({ topics: [{ topic: 'survives-kill', numPartitions: 2 }] }), true);
    await admin.disconnect();

    assert.equal(await node.kill(), null, 'SIGKILL ends it by the signal');
    assert.equal(await node.exited, null);
    assert.equal(await accepts(ports.http), false, 'nothing listens after the kill');

    await node.restart();
    assert.notEqual(node.node.pid, firstPid, 'a new process');
    assert.deepEqual(node.ports, ports);
    assert.equal(await status(ports.http, '/readyz'), 200);
    assert.ok((await topics(ports.kafka)).includes('survives-kill'), 'the data directory was reused');
    assert.match(node.output(), /start #2/, 'output spans both starts');

    assert.equal(await node.stop(), 0, 'SIGTERM is a clean exit');
    node = undefined;
  });

  it('rejects with the node output when the node cannot start', async () => {
    await assert.rejects(startJunctionProcess({ args: ['--set', 'storage.fsync=sometimes'] }), (err: Error) => {
      assert.match(err.message, /exited \(code 2\) before \/readyz 200/);
      assert.match(err.message, /storage\.fsync: must be one of/);
      return true;
    });
  });
});
