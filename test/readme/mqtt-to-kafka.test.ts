/**
 * The README's "From an MQTT device to a Kafka consumer" section, run as written: its YAML is the
 * configuration file, its shell lines run in order, `junction` being bin/junction.js, and each line
 * under a command that starts with `# → ` is what that command must print. Only the ports change:
 * the broker gets free ones, and localhost:9092 / -p 1883 in the commands are rewritten to them.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { freePorts } from '../../scripts/lib/ports.js';
import { removeTempDir, requireDebianClient, tempDir, TEST_HOST } from '../support/index.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const BIN = join(ROOT, 'bin', 'junction.js');
const LISTENERS = ['mqtt', 'amqp', 'stomp', 'xmpp', 'kafka', 'http'] as const;

/** The fenced block following `<!-- readme-test: NAME -->` in README.md. */
function readmeBlock(name: string): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const at = readme.indexOf(`<!-- readme-test: ${name} -->`);
  assert.ok(at >= 0, `README.md has the block "${name}"`);
  const m = /```\w*\n([\s\S]*?)```/.exec(readme.slice(at));
  assert.ok(m, `a fenced block follows "${name}"`);
  return m[1];
}

interface Step { command: string; expect: string[] }

function steps(block: string): Step[] {
  const out: Step[] = [];
  for (const line of block.split('\n')) {
    if (line.startsWith('# → ')) out.at(-1)!.expect.push(line.slice(4));
    else if (line.trim() && !line.startsWith('#')) out.push({ command: line, expect: [] });
  }
  return out;
}

describe('README: from an MQTT device to a Kafka consumer', function () {
  this.timeout(120000);
  before(requireDebianClient('mosquitto-clients', 'mosquitto_pub'));
  before(requireDebianClient('kcat', 'kcat'));
  let dir: string;
  let broker: ChildProcess | undefined;
  before(() => (dir = tempDir('junction-readme-')));
  after(async () => {
    if (broker && broker.exitCode === null) {
      const exited = once(broker, 'exit');
      broker.kill('SIGTERM');
      await exited;
    }
    removeTempDir(dir);
  });

  it('runs the section\'s commands and they print what it says', async () => {
    writeFileSync(join(dir, 'junction.yaml'), readmeBlock('mqtt-to-kafka config'));
    const all = steps(readmeBlock('mqtt-to-kafka commands'));
    assert.match(all[0].command, /^junction start --config junction\.yaml &/);
    assert.ok(all.filter((s) => s.expect.length > 0).length >= 2, 'the section shows output to check');

    const free = await freePorts(LISTENERS.length, TEST_HOST);
    const port = Object.fromEntries(LISTENERS.map((l, i) => [l, free[i]])) as Record<(typeof LISTENERS)[number], number>;
    const local = (cmd: string) => cmd
      .replaceAll('localhost:9092', `${TEST_HOST}:${port.kafka}`)
      .replaceAll('-h localhost -p 1883', `-h ${TEST_HOST} -p ${port.mqtt}`)
      .replace(/^junction /, `"${process.execPath}" "${BIN}" `);

    // 1. the broker, as the first line starts it, on free ports and a fresh data directory
    const args = ['start', '--config', 'junction.yaml', '--data-dir', join(dir, 'data'), '--host', TEST_HOST, '--log-format', 'json',
      ...LISTENERS.flatMap((l) => [`--${l}-port`, String(port[l])])];
    broker = spawn(process.execPath, [BIN, ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, JUNCTION_CONFIG: '' } });
    let stderr = '';
    broker.stderr!.on('data', (c) => (stderr += c));
    const declared: Array<Record<string, unknown>> = [];
    await new Promise<void>((resolve, reject) => {
      broker!.once('exit', (code) => reject(new Error(`junction exited with ${code}: ${stderr}`)));
      createInterface({ input: broker!.stdout! }).on('line', (line) => {
        const l = JSON.parse(line) as Record<string, unknown>;
        if (l.msg === 'stream declared') declared.push(l);
        if (l.msg === 'junction started') resolve();
      });
    });
    assert.deepEqual(declared.map((d) => [d.stream, d.patterns, d.partitions, d.outcome]), [['sensors', ['sensors.#'], 3, 'created']]);

    // 2. every other line, in order, through sh as a user types it
    for (const step of all.slice(1)) {
      const cmd = local(step.command);
      const r = spawnSync('sh', ['-c', cmd], { cwd: dir, encoding: 'utf8', timeout: 60000 });
      assert.equal(r.status, 0, `${step.command}\n${r.stderr}`);
      if (step.expect.length) assert.deepEqual(r.stdout.trimEnd().split('\n'), step.expect, step.command);
    }
  });
});
