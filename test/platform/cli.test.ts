import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createAuthPlugin } from '../../plugins/auth/index.js';
import { removeTempDir, tempDir, TEST_HOST } from '../support/index.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const BIN = join(ROOT, 'bin', 'junction.js');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
const AUTO_PORTS = ['mqtt', 'amqp', 'stomp', 'xmpp', 'kafka', 'http'].flatMap((p) => [`--${p}-port`, 'auto']);

function run(args: string[], opts: { env?: Record<string, string>; input?: string } = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], { env: { ...process.env, ...opts.env }, input: opts.input, encoding: 'utf8', timeout: 60000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface LogLine {
  msg: string;
  [k: string]: unknown;
}

/** Starts `junction start ...` and collects its JSON log lines until `until` returns true. */
async function startCli(args: string[], until: (l: LogLine) => boolean): Promise<{ child: ChildProcess; lines: LogLine[] }> {
  const child = spawn(process.execPath, [BIN, 'start', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, JUNCTION_CONFIG: '' } });
  const lines: LogLine[] = [];
  let stderr = '';
  child.stderr!.on('data', (c) => (stderr += c));
  const rl = createInterface({ input: child.stdout! });
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`junction exited with ${code} before it was ready: ${stderr}`)));
    rl.on('line', (line) => {
      const l = JSON.parse(line) as LogLine;
      lines.push(l);
      if (until(l)) resolve();
    });
  });
  return { child, lines };
}

describe('platform/cli', () => {
  let dir: string;
  before(() => (dir = tempDir()));
  after(() => removeTempDir(dir));

  it('--version prints the package version', () => {
    const r = run(['--version']);
    assert.equal(r.status, 0);
    assert.equal(r.stdout.trim(), pkg.version);
  });

  it('--help lists the commands and every start flag', () => {
    const r = run(['--help']);
    assert.equal(r.status, 0);
    for (const flag of ['--config FILE', '--data-dir DIR', '--host H', '--mqtt-port N', '--amqp-port N', '--stomp-port N', '--xmpp-port N', '--kafka-port N', '--http-port N']) {
      assert.ok(r.stdout.includes(flag), flag);
    }
    assert.match(r.stdout, /junction passwd FILE USER/);
  });

  it('an unknown command exits 2', () => {
    const r = run(['frobnicate']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /unknown command "frobnicate"/);
  });

  it('a bad config value exits 2 with one line naming the key', () => {
    const viaFlag = run(['start', '--set', 'storage.fsync=sometimes']);
    assert.equal(viaFlag.status, 2);
    assert.equal(viaFlag.stderr, 'junction: config error: storage.fsync: must be one of always, interval, never (got "sometimes")\n');
    assert.equal(viaFlag.stdout, '');
    const viaEnv = run(['start'], { env: { JUNCTION_MQTT_PORT: '99999' } });
    assert.equal(viaEnv.status, 2);
    assert.match(viaEnv.stderr, /^junction: config error: mqtt\.port: must be an integer from 0 to 65535[^\n]*\(got 99999\)\n$/);
  });

  it('a bad config file exits 2 with one line', () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'streams:\n  defaultPartitions: lots\n');
    const r = run(['start', '--config', file]);
    assert.equal(r.status, 2);
    assert.equal(r.stderr.split('\n').filter(Boolean).length, 1);
    assert.match(r.stderr, /streams\.defaultPartitions: must be an integer from 1 to 10000 \(got "lots"\)/);
  });

  it('start --data-dir logs where each listener listens, serves /healthz, and exits 0 on SIGTERM', async () => {
    const dataDir = join(dir, 'data');
    const { child, lines } = await startCli(['--data-dir', dataDir, '--host', TEST_HOST, ...AUTO_PORTS], (l) => l.msg === 'junction started');
    const listening = lines.filter((l) => l.msg === 'listening');
    const http = listening.find((l) => l.listener === 'http');
    assert.ok(http, 'the HTTP listener is logged');
    const httpPort = Number(/^http:\/\/127\.0\.0\.1:(\d+)$/.exec(String(http.url))?.[1]);
    const started = lines.at(-1)!;
    assert.equal(started.dataDir, dataDir);
    // A WebSocket endpoint's URL ends in its path (ws://host:port/mqtt).
    for (const l of listening) assert.equal(`:${(started.ports as Record<string, number>)[l.listener as string]}`, /:\d+(?=\/\w+$|$)/.exec(String(l.url))?.[0]);
    assert.equal((await fetch(`http://${TEST_HOST}:${httpPort}/healthz`)).status, 200);

    const rest: string[] = [];
    child.stdout!.on('data', (c) => rest.push(String(c)));
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const [code, signal] = await exited;
    assert.equal(signal, null);
    assert.equal(code, 0);
    assert.match(rest.join(''), /"msg":"junction stopped"/);
  });

  it('SIGINT stops it gracefully too', async () => {
    const { child } = await startCli(['--in-memory', '--host', TEST_HOST, ...AUTO_PORTS], (l) => l.msg === 'junction started');
    const exited = once(child, 'exit');
    child.kill('SIGINT');
    assert.deepEqual(await exited, [0, null]);
  });

  it('passwd writes a users-file entry the broker accepts', async () => {
    const file = join(dir, 'users.yaml');
    const r = run(['passwd', file, 'alice'], { input: 'wonder\n' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(readFileSync(file, 'utf8'), /alice:\n\s+password: scrypt\$/);
    const auth = await createAuthPlugin({ config: { usersFile: file, allowAnonymous: false, rules: [] } });
    assert.deepEqual(await auth.authenticate('mqtt', 'alice', 'wonder'), { user: 'alice', anonymous: false });
    assert.equal(await auth.authenticate('mqtt', 'alice', 'wonder\n'), null);
    assert.equal(run(['passwd', file]).status, 2);
    assert.equal(run(['passwd', file, 'anonymous'], { input: 'x\n' }).status, 2);
  });
});
