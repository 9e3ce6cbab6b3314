/**
 * AMQP SASL through the platform's SASL service: SCRAM-SHA-1/256/512 with rhea (its pluggable
 * client mechanism; the SCRAM arithmetic is test/support/scram-client.ts) and raw frames (the
 * server-final message in sasl-outcome's additional-data), PLAIN and EXTERNAL (a TLS client
 * certificate) with Qpid Proton, wrong passwords and unknown names refused alike.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTestPki, type TestPki } from '../support/certificates.js';
import { DEBIAN_PYTHON, requireDebianClient } from '../support/debian.js';
import { ScramClient, parseServerFirst, type ScramName } from '../support/scram-client.js';
import { close, connect, openSender, send, startAmqp, type Harness } from './helpers.js';
import { parse, SASL_HEADER, saslFrame } from './raw.js';

const PROTON = fileURLToPath(new URL('../../../test/amqp/proton_sasl.py', import.meta.url));

function proton(...args: string[]): Promise<{ sent?: number; error?: string }> {
  return new Promise((resolve, reject) => {
    execFile(DEBIAN_PYTHON, [PROTON, ...args], { timeout: 30000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${err.message}\n${stderr}`));
      else resolve(JSON.parse(stdout.trim().split('\n').at(-1)!));
    });
  });
}

/** A rhea client mechanism (start/step with callbacks) running SCRAM. */
function rheaScram(mechanism: ScramName, user: string, password: string) {
  const scram = new ScramClient(mechanism, user, password);
  return {
    [mechanism]: () => ({
      start: (cb: (err: unknown, response?: Buffer) => void) => cb(null, scram.first()),
      step: (challenge: Buffer, cb: (err: unknown, response?: Buffer) => void) => {
        try {
          cb(null, scram.final(challenge));
        } catch (e) {
          cb(e);
        }
      },
    }),
  };
}

/** A raw SCRAM exchange over SASL frames: the server-first message and the sasl-outcome. */
function rawScram(port: number, client: ScramClient): Promise<{ serverFirst: string; code: number; additional?: Buffer }> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    let serverFirst = '';
    s.on('error', reject);
    s.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      const frames = parse(buf).frames;
      const challenge = frames.find((f) => f.name === 'sasl_challenge');
      const outcome = frames.find((f) => f.name === 'sasl_outcome');
      if (outcome) {
        s.destroy();
        resolve({ serverFirst, code: outcome.performative.code as number, additional: outcome.performative.additional_data as Buffer | undefined });
      } else if (challenge && !serverFirst) {
        serverFirst = (challenge.performative.challenge as Buffer).toString();
        s.write(saslFrame('sasl_response', { response: client.final(serverFirst) }));
      }
    });
    s.write(Buffer.concat([SASL_HEADER, saslFrame('sasl_init', { mechanism: client.mechanism, initial_response: client.first() })]));
  });
}

async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    const c = await p as { close(): void };
    c.close();
    return 'connected';
  } catch (e) {
    const err = e as { condition?: string; message?: string };
    return err.condition ?? err.message ?? String(e);
  }
}

describe('amqp SASL: SCRAM, PLAIN and EXTERNAL', function () {
  this.timeout(60000);

  describe('SCRAM', () => {
    let h: Harness;
    before(async () => {
      h = await startAmqp({}, { auth: { users: { alice: 'wonderland' }, allowAnonymous: false } });
    });
    after(async () => { await h.stop(); });

    for (const mechanism of ['SCRAM-SHA-1', 'SCRAM-SHA-256', 'SCRAM-SHA-512'] as const) {
      it(`rhea logs in with ${mechanism} and sends; a wrong password is refused`, async () => {
        const c = await connect(h.port, { sasl_mechanisms: rheaScram(mechanism, 'alice', 'wonderland') });
        await send(await openSender(c, '/queue/scram'), { body: mechanism });
        await close(c);
        assert.equal(await refusal(connect(h.port, { sasl_mechanisms: rheaScram(mechanism, 'alice', 'wrong') })), 'amqp:unauthorized-access');
      });
    }

    it("sends the server-final message in sasl-outcome's additional-data, and it proves the server", async () => {
      const client = new ScramClient('SCRAM-SHA-256', 'alice', 'wonderland');
      const r = await rawScram(h.port, client);
      assert.equal(r.code, 0);
      assert.ok(client.verify(r.additional), `v= in additional-data: ${r.additional?.toString()}`);
    });

    it('an unknown name gets a server-first message of the same shape and the same refusal as a wrong password', async () => {
      const known = await rawScram(h.port, new ScramClient('SCRAM-SHA-512', 'alice', 'guess'));
      const unknown = await rawScram(h.port, new ScramClient('SCRAM-SHA-512', 'mallory', 'guess'));
      const shape = (x: typeof known) => {
        const sf = parseServerFirst(x.serverFirst);
        return { salt: sf.salt.length, iterations: sf.iterations, code: x.code, additional: x.additional };
      };
      assert.deepEqual(shape(unknown), shape(known));
      assert.deepEqual(shape(known), { salt: 24, iterations: 4096, code: 1, additional: undefined });
    });
  });

  describe('Qpid Proton: PLAIN and EXTERNAL', () => {
    let dir: string;
    let pki: TestPki;
    let h: Harness & { tlsPort?: number };
    before(requireDebianClient('python3-qpid-proton', 'python3:proton'));
    before(requireDebianClient('openssl'));
    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'amqp-sasl-'));
      pki = createTestPki(dir);
      const auth = {
        users: { alice: 'wonderland' }, allowAnonymous: false,
        rules: [{ user: ['alice', 'carol'], allow: ['publish', 'consume', 'subscribe'], address: 'sasl' }],
      };
      h = await startAmqp({}, {
        auth,
        tls: { cert: readFileSync(pki.serverCert), key: readFileSync(pki.serverKey), ca: readFileSync(pki.ca), requestClientCert: true },
      });
    });
    after(async () => {
      await h?.stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('PLAIN: the right password sends, a wrong one is refused', async () => {
      const url = `amqp://127.0.0.1:${h.port}`;
      assert.deepEqual(await proton(url, 'PLAIN', 'alice', 'wonderland'), { sent: 1 });
      const bad = await proton(url, 'PLAIN', 'alice', 'nope');
      assert.match(bad.error ?? '', /unauthorized|auth/i);
    });

    it('EXTERNAL: a client certificate signed by the listener CA logs in as its common name', async () => {
      const carol = pki.client('carol');
      const url = `amqps://127.0.0.1:${h.tlsPort}`;
      const before = h.broker.getQueue('sasl')?.messageCount ?? 0;
      assert.deepEqual(await proton(url, 'EXTERNAL', '', '', carol.cert, carol.key, pki.ca), { sent: 1 });
      assert.equal(h.broker.getQueue('sasl')!.messageCount, before + 1);
      // dave has a good certificate but no rule: authenticated as dave, refused the address.
      const dave = pki.client('dave');
      const r = await proton(url, 'EXTERNAL', '', '', dave.cert, dave.key, pki.ca);
      assert.match(r.error ?? '', /unauthorized/i);
    });

    it('EXTERNAL is not offered without a client certificate, nor on the plain listener', async () => {
      const plain = await proton(`amqp://127.0.0.1:${h.port}`, 'EXTERNAL', '', '');
      assert.ok(plain.error, 'no EXTERNAL on the plain listener');
    });
  });
});
