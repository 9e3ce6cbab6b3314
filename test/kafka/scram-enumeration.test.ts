/**
 * SCRAM must not tell which users exist: the server-first message for an unknown name looks like
 * a real one (salt length, iteration count), its salt is stable across exchanges and broker
 * restarts on the same data directory and differs per name, and the exchange fails only at the
 * final step with the same error. Raw SaslHandshake + SaslAuthenticate against the full platform.
 */
import assert from 'node:assert/strict';
import { ApiKey } from '../../adapters/kafka/protocol/apis.js';
import { createUserRecord, MemoryUserStore } from '../../plugins/auth/index.js';
import { removeTempDir, startBroker, tempDir, type RunningBroker } from '../support/index.js';
import { RawKafkaClient } from './raw-client.js';

interface ServerFirst { nonce: string; salt: Buffer; iterations: number }

function parseServerFirst(bytes: Buffer): ServerFirst {
  const a = new Map(bytes.toString('utf8').split(',').map((p) => [p[0], p.slice(2)] as [string, string]));
  return { nonce: a.get('r')!, salt: Buffer.from(a.get('s')!, 'base64'), iterations: Number(a.get('i')) };
}

/** One SCRAM exchange with a made-up proof: the server-first message and the final answer. */
async function scramAttempt(port: number, user: string, mechanism = 'SCRAM-SHA-256'): Promise<{ first: ServerFirst; errorCode: number; errorMessage: string }> {
  const c = await RawKafkaClient.connect(port);
  try {
    assert.equal((await c.request(ApiKey.SaslHandshake, 1, { mechanism })).errorCode, 0);
    const r1 = await c.request(ApiKey.SaslAuthenticate, 1, { authBytes: Buffer.from(`n,,n=${user},r=clientnonce123`) });
    assert.equal(r1.errorCode, 0, `server-first for ${user}`);
    const first = parseServerFirst(r1.authBytes as Buffer);
    const proof = Buffer.alloc(mechanism === 'SCRAM-SHA-256' ? 32 : 64, 7).toString('base64');
    const r2 = await c.request(ApiKey.SaslAuthenticate, 1, { authBytes: Buffer.from(`c=biws,r=${first.nonce},p=${proof}`) });
    return { first, errorCode: r2.errorCode as number, errorMessage: String(r2.errorMessage).replace(user, 'USER') };
  } finally {
    c.close();
  }
}

describe('kafka: SCRAM does not reveal which users exist', function () {
  this.timeout(60000);
  let dir: string;
  let users: MemoryUserStore;
  const start = () => startBroker({ dataDir: dir, userStore: users, protocols: ['kafka'] });
  before(async () => {
    dir = tempDir();
    users = new MemoryUserStore({ alice: await createUserRecord('wonderland', { N: 1024, scramIterations: 4096 }) });
  });
  after(() => removeTempDir(dir));

  it('answers a known and an unknown user alike, fails both at the final step with the same error', async () => {
    const b = await start();
    try {
      for (const mechanism of ['SCRAM-SHA-256', 'SCRAM-SHA-512']) {
        const known = await scramAttempt(b.ports.kafka!, 'alice', mechanism);
        const unknown = await scramAttempt(b.ports.kafka!, 'mallory', mechanism);
        assert.equal(unknown.first.salt.length, known.first.salt.length, `${mechanism} salt length`);
        assert.equal(unknown.first.iterations, known.first.iterations, `${mechanism} iterations`);
        assert.equal(unknown.errorCode, known.errorCode);
        assert.equal(unknown.errorCode, 58, 'SASL_AUTHENTICATION_FAILED');
        assert.equal(unknown.errorMessage, known.errorMessage);
      }
    } finally {
      await b.close();
    }
  });

  it("keeps an unknown name's salt across exchanges and restarts; names get different salts", async () => {
    let b: RunningBroker = await start();
    let firstRun: Buffer;
    try {
      firstRun = (await scramAttempt(b.ports.kafka!, 'mallory')).first.salt;
      assert.deepEqual((await scramAttempt(b.ports.kafka!, 'mallory')).first.salt, firstRun, 'same salt in a second exchange');
      assert.notDeepEqual((await scramAttempt(b.ports.kafka!, 'trudy')).first.salt, firstRun, 'another name, another salt');
    } finally {
      await b.close();
    }
    b = await start();
    try {
      assert.deepEqual((await scramAttempt(b.ports.kafka!, 'mallory')).first.salt, firstRun, 'same salt after a restart');
    } finally {
      await b.close();
    }
  });
});
