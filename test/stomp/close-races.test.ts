/**
 * A connection that goes away while its SUBSCRIBE (or the CONNECT before it) waits for the core
 * leaves nothing behind: no temporary subscription queue, no temp queue, no consumer.
 */
import assert from 'node:assert/strict';
import { connect as netConnect } from 'node:net';
import { eventually, TEST_HOST } from '../support/index.js';
import { RawStomp, startStomp, type StompBroker } from './helpers.js';

const CONNECT = 'CONNECT\naccept-version:1.2\nhost:/\n\n\0';
// An unknown login with anonymous access allowed: the password check runs (a few ms of scrypt),
// so the close arrives while CONNECT waits and the SUBSCRIBEs behind it are queued.
const SLOW_CONNECT = 'CONNECT\naccept-version:1.2\nhost:/\nlogin:nobody\npasscode:x\n\n\0';

function subscribes(n: number): string {
  return `SUBSCRIBE\nid:t${n}\ndestination:/topic/race.#\n\n\0SUBSCRIBE\nid:q${n}\ndestination:/temp-queue/r${n}\n\n\0`
    + `SUBSCRIBE\nid:d${n}\ndestination:/queue/race-durable\n\n\0`;
}

/** Writes `data` and destroys the socket as soon as it is handed to the kernel. */
function writeAndDestroy(data: string, afterConnected: boolean, port: number): Promise<void> {
  return new Promise((resolve) => {
    const socket = netConnect({ host: TEST_HOST, port }, () => {
      if (!afterConnected) socket.write(data, () => socket.destroy());
      else socket.write(CONNECT);
    });
    socket.on('data', (d) => {
      if (afterConnected && d.toString().startsWith('CONNECTED')) socket.write(data, () => socket.destroy());
    });
    socket.on('error', () => undefined);
    socket.on('close', () => resolve());
  });
}

function temporaryQueues(s: StompBroker): string[] {
  return [...s.b.broker.queues()].filter((q) => q.options.autoDelete || q.options.exclusiveOwner !== undefined).map((q) => q.name);
}

describe('STOMP: a close racing a SUBSCRIBE leaves no temporary queue', function () {
  this.timeout(60000);
  let s: StompBroker;
  before(async () => { s = await startStomp(); });
  after(async () => s?.close());

  it('60 connections that SUBSCRIBE (topic, temp-queue, queue) and destroy their socket at once', async () => {
    const runs: Array<Promise<void>> = [];
    for (let i = 0; i < 20; i++) {
      runs.push(writeAndDestroy(SLOW_CONNECT + subscribes(i), false, s.port));
      runs.push(writeAndDestroy(CONNECT + subscribes(100 + i), false, s.port));
      runs.push(writeAndDestroy(subscribes(200 + i), true, s.port));
    }
    await Promise.all(runs);
    await eventually(() => temporaryQueues(s).length === 0, { timeout: 10000, what: `no temporary queues (left: ${temporaryQueues(s).join(', ')})` });
    await eventually(() => (s.b.broker.getQueue('race-durable')?.consumers.length ?? 0) === 0, { what: 'no consumer left on the durable queue' });
    // A message published now has nowhere to go but the durable queue (which nothing consumes).
    const c = await RawStomp.connect(s.port);
    await c.sendWithReceipt('SEND', { destination: '/topic/race.x' }, 'after');
    await c.disconnect();
    assert.deepEqual(temporaryQueues(s), []);
  });

  it('a handshake timeout during a slow login: the SUBSCRIBEs queued behind CONNECT start nothing', async () => {
    const t = await startStomp({ stomp: { handshakeTimeoutMs: 1 } as never });
    try {
      const runs: Array<Promise<void>> = [];
      for (let i = 0; i < 10; i++) {
        runs.push(new Promise((resolve) => {
          const socket = netConnect({ host: TEST_HOST, port: t.port }, () => socket.write(SLOW_CONNECT + subscribes(i)));
          socket.resume();
          socket.on('error', () => undefined);
          socket.on('close', () => resolve());
        }));
      }
      await Promise.all(runs);
      await eventually(() => temporaryQueues(t).length === 0, { timeout: 10000, what: `no temporary queues (left: ${temporaryQueues(t).join(', ')})` });
      await eventually(() => (t.b.broker.getQueue('race-durable')?.consumers.length ?? 0) === 0, { what: 'no consumer left on the durable queue' });
    } finally {
      await t.close();
    }
  });
});
