/**
 * `npm run chaos` end to end, small: one kill -9 trial of a Junction child process under every
 * protocol's acknowledged load, restart on the same data, read-back. The script's summary must
 * show load acknowledged on every protocol and nothing lost, and the script must exit 0.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../scripts/lib/paths.js';

const SCRIPT = join(PROJECT_ROOT, 'dist', 'scripts', 'chaos.js');
const LOADS = ['mqtt-qos1', 'mqtt-qos2', 'kafka-idem', 'stomp', 'amqp', 'xmpp'];

function run(args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [SCRIPT, ...args], { cwd: PROJECT_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('exit', (code) => resolve({ code, output }));
  });
}

describe('platform/chaos-script: npm run chaos, one kill -9 trial', function () {
  this.timeout(90000);

  it('acknowledges load on every protocol across a kill -9 and loses none of it', async () => {
    const { code, output } = await run(['--trials', '1', '--no-disk-full', '--rate', '30', '--window', '4']);
    assert.match(output, /trial 1: kill -9 \d+ .*back in \d+ ms/, output);
    const summary = output.slice(output.indexOf('summary of 1/1 trials'));
    for (const load of LOADS) {
      const row = summary.split('\n').find((l) => l.startsWith(`${load} `));
      assert.ok(row, `summary row for ${load}:\n${output}`);
      const [acknowledged, received, lost] = row.trim().split(/\s+/).slice(1, 4).map(Number);
      assert.ok(acknowledged > 0, `${load}: some messages acknowledged (${row})`);
      assert.equal(lost, 0, `${load}: acknowledged messages lost (${row})\n${output}`);
      assert.ok(received >= acknowledged, `${load}: everything acknowledged read back (${row})`);
    }
    assert.equal(code, 0, output);
  });
});
