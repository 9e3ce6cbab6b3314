/**
 * `accepted` means stored: messages a producer saw accepted survive `kill -9` of the broker
 * (file store, fsync interval), and come back to a consumer after the restart.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startBroker } from '../support/index.js';
import { connect, openReceiver, openSender, receive, send, close } from './helpers.js';

const CHILD = fileURLToPath(new URL('./broker-child.js', import.meta.url));

describe('amqp durability', function () {
  this.timeout(60000);

  it('accepted durable messages survive kill -9 of the broker', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'amqp-kill-'));
    try {
      const child = spawn(process.execPath, [CHILD, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
      const port = await new Promise<number>((resolve, reject) => {
        let buf = '';
        child.stdout!.on('data', (d) => {
          buf += d;
          const i = buf.indexOf('\n');
          if (i >= 0) resolve((JSON.parse(buf.slice(0, i)) as { port: number }).port);
        });
        child.on('exit', (code) => reject(new Error(`broker exited with ${code}`)));
      });
      const c = await connect(port);
      const s = await openSender(c, '/queue/survive');
      const outcomes = await Promise.all(Array.from({ length: 200 }, (_, i) => send(s, { body: `m${i}`, durable: true })));
      assert.ok(outcomes.every((o) => o === 'accepted'));
      c.on('disconnected', () => undefined);
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;

      const b = await startBroker({ dataDir: dir, protocols: ['amqp'] });
      try {
        assert.equal(b.broker.getQueue('survive')?.messageCount, 200);
        const c2 = await connect(b.ports.amqp!);
        const r = await openReceiver(c2, '/queue/survive');
        const got = await receive(r, 200);
        assert.deepEqual(got.map((g) => g.message.body), Array.from({ length: 200 }, (_, i) => `m${i}`));
        await close(c2);
      } finally {
        await b.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
