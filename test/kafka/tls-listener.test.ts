/**
 * The Kafka TLS listener from configuration alone: a certificate in `kafka.tls` opens it on
 * `kafka.tlsPort` (or `--kafka-tls-port`), it is logged as `listening` with a kafka+ssl:// URL, and
 * kcat produces and consumes over it with security.protocol=ssl. A certificate that cannot be
 * loaded, for any protocol, stops `junction start` with one line naming the key.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { freePorts } from '../../scripts/lib/ports.js';
import { loadConfig } from '../../index.js';
import { removeTempDir, requireDebianClient, tempDir, TEST_HOST } from '../support/index.js';
import { run } from './support.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const BIN = join(ROOT, 'bin', 'junction.js');
const PLAIN = ['mqtt', 'amqp', 'stomp', 'xmpp', 'kafka', 'http'] as const;

describe('kafka: TLS listener from configuration', function () {
  this.timeout(90000);
  before(requireDebianClient('openssl', 'openssl'));
  before(requireDebianClient('kcat', 'kcat'));
  let dir: string;
  let cert: string;
  let key: string;
  let child: ChildProcess | undefined;
  before(() => {
    dir = tempDir('junction-kafka-tls-');
    cert = join(dir, 'cert.pem');
    key = join(dir, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2',
      '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'ignore' });
  });
  afterEach(async () => {
    if (child && child.exitCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    }
    child = undefined;
  });
  after(() => removeTempDir(dir));

  /** Starts the CLI with a free port per plain listener plus `args(tlsPort)` (one more free port); resolves with the `listening` URLs. */
  async function start(args: (tlsPort: number) => string[]): Promise<{ urls: Record<string, string>; tlsPort: number }> {
    const free = await freePorts(PLAIN.length + 1, TEST_HOST);
    const tlsPort = free[PLAIN.length];
    const portArgs = PLAIN.flatMap((l, i) => [`--${l}-port`, String(free[i])]);
    child = spawn(process.execPath, [BIN, 'start', '--in-memory', '--host', TEST_HOST, '--log-format', 'json', ...portArgs, ...args(tlsPort)], {
      stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, JUNCTION_CONFIG: '' },
    });
    let stderr = '';
    child.stderr!.on('data', (c) => (stderr += c));
    const urls: Record<string, string> = {};
    await new Promise<void>((resolve, reject) => {
      child!.once('exit', (code) => reject(new Error(`junction exited with ${code}: ${stderr}`)));
      createInterface({ input: child!.stdout! }).on('line', (line) => {
        const l = JSON.parse(line) as { msg: string; listener?: string; url?: string };
        if (l.msg === 'listening') urls[l.listener!] = l.url!;
        if (l.msg === 'junction started') resolve();
      });
    });
    return { urls, tlsPort };
  }

  it('kafka.tlsPort defaults to 9093 and --kafka-tls-port sets it', () => {
    assert.equal(loadConfig().kafka.tlsPort, 9093);
    assert.equal(loadConfig({ argv: ['--kafka-tls-port', '19093'] }).kafka.tlsPort, 19093);
  });

  it('a certificate in kafka.tls of the config file opens the TLS listener; kcat uses it with security.protocol=ssl', async () => {
    const file = join(dir, 'kafka-tls.yaml');
    const { urls, tlsPort } = await start((port) => {
      writeFileSync(file, `kafka:\n  tlsPort: ${port}\n  tls:\n    cert: ${cert}\n    key: ${key}\n`);
      return ['--config', file];
    });
    assert.equal(urls['kafka-tls'], `kafka+ssl://${TEST_HOST}:${tlsPort}`);
    assert.equal(urls['mqtt-tls'], undefined, 'only Kafka has a certificate');
    const ssl = ['-b', `${TEST_HOST}:${tlsPort}`, '-X', 'security.protocol=ssl', '-X', `ssl.ca.location=${cert}`];
    const produced = await run('kcat', [...ssl, '-P', '-t', 'over-tls'], 'secret\n');
    assert.equal(produced.code, 0, produced.stderr);
    const consumed = await run('kcat', [...ssl, '-C', '-t', 'over-tls', '-o', 'beginning', '-e', '-q', '-f', '%s\\n']);
    assert.equal(consumed.stdout, 'secret\n', consumed.stderr);
  });

  it('--kafka-tls-port with the global tls section opens it too', async () => {
    const { urls, tlsPort } = await start((port) => ['--set', `tls.cert=${cert}`, '--set', `tls.key=${key}`, '--kafka-tls-port', String(port),
      '--mqtt-tls-port', 'auto', '--amqp-tls-port', 'auto', '--stomp-tls-port', 'auto']);
    assert.equal(urls['kafka-tls'], `kafka+ssl://${TEST_HOST}:${tlsPort}`);
    assert.match(urls['mqtt-tls'], /^mqtts:\/\//);
  });

  it('a certificate that cannot be loaded stops start-up with one line naming the key, for every protocol', () => {
    const garbage = join(dir, 'garbage.pem');
    writeFileSync(garbage, '-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n');
    for (const p of ['mqtt', 'amqp', 'stomp', 'xmpp', 'kafka', 'http']) {
      for (const [certFile, pattern] of [
        [join(dir, 'missing.pem'), new RegExp(`^junction: config error: ${p}\\.tls\\.cert: cannot read .*missing\\.pem \\(ENOENT\\)\\n$`)],
        [garbage, new RegExp(`^junction: config error: ${p}\\.tls\\.cert: the certificate, key or CA is not usable \\([^\\n]*\\)\\n$`)],
      ] as const) {
        const r = spawnSync(process.execPath, [BIN, 'start', '--in-memory', '--set', `${p}.tls.cert=${certFile}`, '--set', `${p}.tls.key=${key}`],
          { encoding: 'utf8', timeout: 30000, env: { ...process.env, JUNCTION_CONFIG: '' } });
        assert.equal(r.status, 2, `${p}: ${r.stderr}`);
        assert.match(r.stderr, pattern, p);
        assert.equal(r.stdout, '', `${p}: nothing logged before the error`);
      }
    }
  });
});
