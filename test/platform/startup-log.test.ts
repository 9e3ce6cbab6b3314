/**
 * Start-up logs: one `listening` line per listener with its URL (one spelling of "all
 * interfaces"), one `settings` line (auth mode, data dir, fsync), no duplicated JSON keys, the
 * pretty format, and one line without a stack when the data directory is in use.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { connect } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createLogger, formatPretty, startBroker } from '../../index.js';
import { listenerUrl } from '../../plugins/log/index.js';
import { removeTempDir, tempDir, TEST_HOST } from '../support/index.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const BIN = join(ROOT, 'bin', 'junction.js');
const AUTO_PORTS = ['mqtt', 'amqp', 'stomp', 'xmpp', 'kafka', 'http'].flatMap((p) => [`--${p}-port`, 'auto']);

/** Runs `junction start ...` until a line matches; returns the raw lines so far. */
async function startCli(args: string[], until: RegExp): Promise<{ child: ChildProcess; lines: string[] }> {
  const child = spawn(process.execPath, [BIN, 'start', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, JUNCTION_CONFIG: '' } });
  const lines: string[] = [];
  let stderr = '';
  child.stderr!.on('data', (c) => (stderr += c));
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`junction exited with ${code}: ${stderr}`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      lines.push(line);
      if (until.test(line)) resolve();
    });
  });
  return { child, lines };
}

async function stop(child: ChildProcess): Promise<void> {
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  await exited;
}

/** The keys of one JSON object line in order, duplicates kept (JSON.parse would merge them). */
function topLevelKeys(line: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === '"') {
      let j = i + 1;
      while (line[j] !== '"') j += line[j] === '\\' ? 2 : 1;
      if (depth === 1 && line[j + 1] === ':') keys.push(line.slice(i + 1, j));
      i = j;
    } else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') depth--;
  }
  return keys;
}

describe('platform/start-up logs', function () {
  this.timeout(60000);
  let dir: string;
  before(() => (dir = tempDir('junction-log-')));
  after(() => removeTempDir(dir));

  it('one "listening" line per listener with its URL, and one "settings" line', async () => {
    const dataDir = join(dir, 'd1');
    const { child, lines } = await startCli(['--data-dir', dataDir, '--host', TEST_HOST, '--fsync', 'always', ...AUTO_PORTS], /"junction started"/);
    try {
      const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
      const listening = records.filter((r) => r.msg === 'listening');
      assert.deepEqual(listening.map((r) => r.listener).sort(), ['amqp', 'http', 'kafka', 'mqtt', 'mqtt-ws', 'stomp', 'stomp-ws', 'xmpp', 'xmpp-ws']);
      const http = listening.find((r) => r.listener === 'http')!;
      for (const r of listening) {
        const ws = /^(\w+)-ws$/.exec(String(r.listener));
        if (ws) {
          // A WebSocket endpoint: on the HTTP listener's port, at its path.
          assert.equal(r.url, `${String(http.url).replace(/^http/, 'ws')}/${ws[1]}`);
          continue;
        }
        assert.match(String(r.url), new RegExp(`^(mqtt|amqp|stomp|xmpp|kafka|http)://127\\.0\\.0\\.1:\\d+$`));
        assert.equal(String(r.url).split(':')[0], r.listener);
      }
      assert.equal(records.filter((r) => /listen/i.test(String(r.msg))).length, listening.length, 'no other wording of "listening"');
      const settings = records.filter((r) => r.msg === 'settings');
      assert.equal(settings.length, 1);
      assert.deepEqual({ ...settings[0], level: undefined, time: undefined, pid: undefined, hostname: undefined },
        { level: undefined, time: undefined, pid: undefined, hostname: undefined, name: 'junction', msg: 'settings', auth: 'anonymous (no users)', storage: 'file', dataDir, fsync: 'always' });
      for (const l of lines) {
        const keys = topLevelKeys(l);
        assert.equal(new Set(keys).size, keys.length, `duplicated key in ${l}`);
      }
    } finally {
      await stop(child);
    }
  });

  it('adapter log lines carry "adapter" once', async () => {
    const out: string[] = [];
    const logger = createLogger({ level: 'debug', format: 'json', stream: { write: (s: string) => out.push(s) } });
    const b = await startBroker({ inMemory: true, host: TEST_HOST, ports: { mqtt: 'auto', amqp: 'auto', stomp: 'auto', http: 0, xmpp: 0, kafka: 0 }, logger });
    try {
      // A frame each of these adapters refuses, logged by the adapter's own logger.
      for (const name of ['mqtt', 'amqp', 'stomp'] as const) {
        const s = connect(b.ports[name]!, TEST_HOST);
        s.on('error', () => undefined);
        s.write(Buffer.from('\xff\xff\xff\xff\xff garbage\n\n\0', 'latin1'));
        while (!out.some((l) => l.includes(`"adapter":"${name}"`))) await new Promise((r) => setTimeout(r, 20));
        s.destroy();
      }
    } finally {
      await b.close();
    }
    const withAdapter = out.filter((l) => l.includes('"adapter":'));
    assert.deepEqual(['mqtt', 'amqp', 'stomp'].filter((a) => !withAdapter.some((l) => l.includes(`"adapter":"${a}"`))), []);
    for (const l of out) {
      const keys = topLevelKeys(l);
      assert.equal(new Set(keys).size, keys.length, `duplicated key in ${l}`);
    }
  });

  it('--log-format pretty prints time, level, message and fields', async () => {
    const { child, lines } = await startCli(['--in-memory', '--host', TEST_HOST, '--log-format', 'pretty', ...AUTO_PORTS], /junction started/);
    await stop(child);
    const http = lines.find((l) => l.includes(' listening listener=http '));
    assert.match(http ?? '', /^\d\d:\d\d:\d\d\.\d{3} INFO  listening listener=http url=http:\/\/127\.0\.0\.1:\d+$/);
    assert.ok(lines.some((l) => /^\d\d:\d\d:\d\d\.\d{3} INFO  settings auth="anonymous \(no users\)" storage=memory dataDir=null fsync=null$/.test(l)), lines.join('\n'));
  });

  it('formatPretty puts an error\'s stack under the line, and leaves non-JSON as is', () => {
    const err = new Error('boom');
    const line = JSON.stringify({ level: 50, time: new Date(2026, 0, 2, 3, 4, 5, 6).getTime(), msg: 'failed', err: { message: err.message, stack: err.stack }, port: 5 });
    const text = formatPretty(line);
    assert.match(text, /^03:04:05\.006 ERROR failed err=boom port=5\n    at /);
    assert.equal(formatPretty('plain text\n'), 'plain text\n');
  });

  it('listener URLs spell every "all interfaces" host as 0.0.0.0', () => {
    for (const host of ['', '::', '0.0.0.0']) assert.equal(listenerUrl({ name: 'mqtt', protocol: 'mqtt', host, port: 1883, tls: false }), 'mqtt://0.0.0.0:1883');
    assert.equal(listenerUrl({ name: 'stomp-tls', protocol: 'stomp', host: '::1', port: 61614, tls: true }), 'stomp+ssl://[::1]:61614');
    assert.equal(listenerUrl({ name: 'mqtt-tls', protocol: 'mqtt', host: '', port: 8883, tls: true }), 'mqtts://0.0.0.0:8883');
    assert.equal(listenerUrl({ name: 'mqtt-ws', protocol: 'mqtt', host: '', port: 8080, tls: false, path: '/mqtt' }), 'ws://0.0.0.0:8080/mqtt');
    assert.equal(listenerUrl({ name: 'http', protocol: 'https', host: 'h', port: 8443, tls: true }), 'https://h:8443');
  });

  it('a data directory in use stops start-up with one line and no stack', async () => {
    const dataDir = join(dir, 'd2');
    const { child } = await startCli(['--data-dir', dataDir, '--host', TEST_HOST, ...AUTO_PORTS], /"junction started"/);
    try {
      const r = spawnSync(process.execPath, [BIN, 'start', '--data-dir', dataDir, '--host', TEST_HOST, ...AUTO_PORTS], { encoding: 'utf8', timeout: 30000, env: { ...process.env, JUNCTION_CONFIG: '' } });
      assert.equal(r.status, 1);
      assert.equal(r.stderr, `junction: cannot start: data directory ${dataDir} is in use by process ${child.pid}\n`);
      assert.doesNotMatch(r.stdout, /start-up failed|"stack"|\n\s+at /);
    } finally {
      await stop(child);
    }
  });
});
