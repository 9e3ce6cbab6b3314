/**
 * The published package: `npm pack` ships the compiled broker (no tests, no TypeScript sources),
 * bin, config/default.yaml, the console assets, README and docs; `npm install <tarball>` into an
 * empty project (dependencies from the registry or npm's cache, as a user gets them) then runs
 * `npx junction --version`, a command-line tool and `npx junction start`.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { removeTempDir, tempDir, TEST_HOST } from '../support/index.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string };
const AUTO_PORTS = ['mqtt', 'amqp', 'stomp', 'xmpp', 'kafka', 'http'].flatMap((p) => [`--${p}-port`, 'auto']);
const NPM_ENV = { ...process.env, npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' };

describe('platform/package (npm pack)', function () {
  this.timeout(240000);
  let dir: string;
  let files: string[];
  before(() => {
    dir = tempDir('junction-pack-');
    const out = execFileSync('npm', ['pack', '--json', '--pack-destination', dir], { cwd: ROOT, env: NPM_ENV, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const [packed] = JSON.parse(out) as Array<{ filename: string; files: Array<{ path: string }> }>;
    files = packed.files.map((f) => f.path);
    // An empty project that installs the tarball as a user would.
    const app = join(dir, 'app');
    mkdirSync(app);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true }));
    execFileSync('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', join(dir, packed.filename)], {
      cwd: app, env: NPM_ENV, stdio: ['ignore', 'ignore', 'pipe'], timeout: 180000,
    });
  });
  after(() => removeTempDir(dir));

  it('contains the compiled broker, bin, default config, console, README and docs, and no tests or sources', () => {
    for (const f of ['bin/junction.js', 'dist/index.js', 'dist/index.d.ts', 'dist/cli/main.js', 'dist/adapters/kafka/index.js', 'config/default.yaml',
      'plugins/console/console.html', 'README.md', 'docs/configuration.md', 'package.json']) {
      assert.ok(files.includes(f), `${f} is packed`);
    }
    const unwanted = files.filter((f) => f.startsWith('dist/test/') || f.startsWith('dist/bench/') || f.startsWith('dist/fuzz/') || f.startsWith('test/')
      || f.startsWith('node_modules/') || f.startsWith('data/') || f.endsWith('.map') || (f.endsWith('.ts') && !f.endsWith('.d.ts')));
    assert.deepEqual(unwanted, []);
  });

  it('npx junction --version runs from the installed tarball', () => {
    const r = spawnSync('npx', ['--no', '--', 'junction', '--version'], { cwd: join(dir, 'app'), env: NPM_ENV, encoding: 'utf8', timeout: 60000 });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), pkg.version);
  });

  it('npx junction <tool> runs from the installed tarball, its clients installed with it', () => {
    const npx = (...args: string[]) => spawnSync('npx', ['--no', '--', 'junction', ...args], { cwd: join(dir, 'app'), env: NPM_ENV, encoding: 'utf8', timeout: 60000 });
    let r = npx('topics', '--help');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^Usage: junction topics /);
    // Loading kafkajs and mqtt: an unreachable broker is the answer, not a missing module.
    r = npx('topics', '--list', '--bootstrap-server', '127.0.0.1:1');
    assert.deepEqual([r.status, r.stderr], [1, 'cannot reach the Kafka broker at 127.0.0.1:1: Connection error: connect ECONNREFUSED 127.0.0.1:1\n']);
    r = npx('send', 'mqtt://127.0.0.1:1/x', 'y');
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^junction send: cannot reach the MQTT broker at 127\.0\.0\.1:1: .*ECONNREFUSED.*\n$/);
  });

  it('npx junction start starts every listener and stops on SIGTERM', async () => {
    const child = spawn('npx', ['--no', '--', 'junction', 'start', '--in-memory', '--host', TEST_HOST, '--log-format', 'json', ...AUTO_PORTS], {
      cwd: join(dir, 'app'), env: { ...NPM_ENV, JUNCTION_CONFIG: '' }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (c) => (stderr += c));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    let stopped = false;
    let pid = 0;
    try {
      const listeners: string[] = [];
      await new Promise<void>((resolve, reject) => {
        void exited.then((code) => reject(new Error(`exited ${code} before it started: ${stderr}`)));
        createInterface({ input: child.stdout! }).on('line', (line) => {
          const l = JSON.parse(line) as { msg: string; listener?: string; pid: number };
          pid = l.pid;
          if (l.msg === 'listening' && l.listener) listeners.push(l.listener);
          if (l.msg === 'junction started') resolve();
          if (l.msg === 'junction stopped') stopped = true;
        });
      });
      assert.deepEqual(listeners.sort(), ['amqp', 'http', 'kafka', 'mqtt', 'mqtt-ws', 'stomp', 'stomp-ws', 'xmpp', 'xmpp-ws']);
    } finally {
      // The broker itself (npx's child, pid from its log lines); npx then exits with its code.
      process.kill(pid || child.pid!, 'SIGTERM');
    }
    assert.equal(await exited, 0);
    assert.ok(stopped, `the broker logged "junction stopped": ${stderr}`);
  });
});
