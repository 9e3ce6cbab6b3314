import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bindPort, ConfigError, loadConfig, type LoadOptions } from '../../config/load.js';
import { envNameToPath } from '../../config/paths.js';
import { removeTempDir, tempDir } from '../support/index.js';

function configError(opts: LoadOptions): ConfigError {
  try {
    loadConfig(opts);
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${String(e)}`);
    assert.ok(!e.message.includes('\n'), `error must be one line: ${e.message}`);
    return e;
  }
  assert.fail('expected a ConfigError');
}

describe('platform/config', () => {
  let dir: string;
  before(() => (dir = tempDir()));
  after(() => removeTempDir(dir));

  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  it('defaults come from the schema (config/default.yaml lists the same)', () => {
    const c = loadConfig();
    assert.equal(c.host, '');
    assert.equal(c.dataDir, './data');
    assert.deepEqual(
      [c.mqtt.port, c.amqp.port, c.stomp.port, c.xmpp.port, c.kafka.port, c.http.port],
      [1883, 5672, 61613, 5222, 9092, 8080],
    );
    assert.deepEqual([c.mqtt.tlsPort, c.amqp.tlsPort, c.stomp.tlsPort], [8883, 5671, 61614]);
    assert.equal(c.storage.fsync, 'interval');
    assert.equal(c.storage.engine, 'file');
    assert.equal(c.xmpp.domain, 'localhost');
    assert.equal(c.kafka.advertisedHost, null);
    assert.deepEqual(c.auth, { usersFile: null, allowAnonymous: true, rules: [], maxFailuresPerMinute: 10 });
    assert.deepEqual(c.tls, { cert: null, key: null, ca: null, requestClientCert: false });
    assert.equal(c.queues.deadLetterSuffix, '.dlq');
    assert.equal(c.streams.defaultPartitions, 1);
    assert.equal(c.streams.autoCreate, true);
  });

  it('precedence: flags > environment > file > defaults', () => {
    const yaml = file('p.yaml', 'mqtt:\n  port: 1001\nstorage:\n  fsync: never\nhttp:\n  port: 8001\n');
    const env = { JUNCTION_MQTT_PORT: '2002', JUNCTION_HTTP_PORT: '8002' };
    const argv = ['--mqtt-port', '3003'];
    assert.equal(loadConfig({ file: yaml }).mqtt.port, 1001);
    assert.equal(loadConfig({ file: yaml }).storage.fsync, 'never');
    assert.equal(loadConfig({ file: yaml, env }).mqtt.port, 2002);
    const all = loadConfig({ file: yaml, env, argv });
    assert.equal(all.mqtt.port, 3003);
    assert.equal(all.http.port, 8002);
    assert.equal(all.storage.fsync, 'never');
    assert.equal(all.amqp.port, 5672);
    assert.equal(loadConfig({ file: yaml, env, argv, overrides: { mqtt: { port: 4004 } } }).mqtt.port, 4004);
  });

  it('--config and JUNCTION_CONFIG name the file (flag first)', () => {
    const a = file('a.yaml', 'dataDir: /from-a\n');
    const b = file('b.json', '{"dataDir": "/from-b"}');
    assert.equal(loadConfig({ env: { JUNCTION_CONFIG: a } }).dataDir, '/from-a');
    assert.equal(loadConfig({ env: { JUNCTION_CONFIG: a }, argv: ['--config', b] }).dataDir, '/from-b');
    assert.equal(loadConfig({ argv: [`--config=${b}`] }).dataDir, '/from-b');
  });

  it('maps JUNCTION_* names onto keys, with __ for nesting', () => {
    const c = loadConfig({
      env: {
        JUNCTION_DATA_DIR: '/d',
        JUNCTION_STORAGE_FSYNC: 'always',
        JUNCTION_STORAGE_FSYNC_INTERVAL_MS: '50',
        JUNCTION_KAFKA__ADVERTISED_HOST: 'broker.example',
        JUNCTION_STREAMS_AUTO_CREATE: 'false',
        JUNCTION_MQTT__TLS_PORT: '18883',
        JUNCTION_LOG_LEVEL: 'debug',
        PATH: '/usr/bin',
      },
    });
    assert.equal(c.dataDir, '/d');
    assert.equal(c.storage.fsync, 'always');
    assert.equal(c.storage.fsyncIntervalMs, 50);
    assert.equal(c.kafka.advertisedHost, 'broker.example');
    assert.equal(c.streams.autoCreate, false);
    assert.equal(c.mqtt.tlsPort, 18883);
    assert.equal(c.log.level, 'debug');
    assert.deepEqual(envNameToPath('MQTT_PORT'), ['mqtt', 'port']);
    assert.deepEqual(envNameToPath('TLS_REQUEST_CLIENT_CERT'), ['tls', 'requestClientCert']);
  });

  it('adapter keys are reached by environment and flags', () => {
    const c = loadConfig({ env: { JUNCTION_MQTT__MAX_INFLIGHT: '20', JUNCTION_XMPP_PUBSUB_MAX_ITEMS: '7' }, argv: ['--set', 'stomp.heartbeatMaxMs=5000'] });
    assert.equal(c.mqtt.maxInflight, 20);
    assert.equal(c.stomp.heartbeatMaxMs, 5000);
    assert.equal(c.xmpp.pubsub.maxItems, 7);
  });

  it('"auto" and -1 ask for an ephemeral port, 0 disables a listener', () => {
    const c = loadConfig({ argv: ['--mqtt-port', 'auto', '--kafka-port', '0'], overrides: { http: { port: 'auto' } } });
    assert.equal(c.mqtt.port, -1);
    assert.equal(c.http.port, -1);
    assert.equal(bindPort(c.mqtt.port), 0);
    assert.equal(bindPort(c.kafka.port), null);
    assert.equal(bindPort(1883), 1883);
  });

  it('a bad value is one line naming the key and what is allowed', () => {
    assert.equal(
      configError({ env: { JUNCTION_STORAGE_FSYNC: 'sometimes' } }).message,
      'storage.fsync: must be one of always, interval, never (got "sometimes")',
    );
    const port = configError({ argv: ['--mqtt-port', '70000'] });
    assert.equal(port.key, 'mqtt.port');
    assert.match(port.message, /^mqtt\.port: must be an integer from 0 to 65535 .*\(got 70000\)$/);
    assert.match(configError({ argv: ['--amqp-port', 'abc'] }).message, /^amqp\.port: must be .*\(got "abc"\)$/);
    assert.match(configError({ argv: ['--log-level', 'loud'] }).message, /^log\.level: must be one of fatal, error/);
    assert.match(configError({ overrides: { streams: { defaultPartitions: 0 } } }).message, /^streams\.defaultPartitions: must be an integer from 1/);
  });

  it('unknown keys, variables and options are refused', () => {
    assert.equal(configError({ argv: ['--set', 'storage.foo=1'] }).message, 'storage.foo: unknown key (allowed in storage: engine, fsync, fsyncIntervalMs, maxOpenFiles, maxDiskBytes, snapshotEveryBytes)');
    assert.match(configError({ env: { JUNCTION_NOPE: '1' } }).message, /^environment variable JUNCTION_NOPE names no configuration key/);
    assert.match(configError({ argv: ['--mqtt'] }).message, /^unknown option --mqtt/);
    assert.match(configError({ argv: ['--data-dir'] }).message, /^option --data-dir needs a value/);
    assert.match(configError({ argv: ['stray'] }).message, /^unexpected argument "stray"/);
    assert.match(configError({ overrides: { topLevel: 1 } }).message, /^topLevel: unknown key/);
  });

  it('a bad or missing config file is one line', () => {
    assert.match(configError({ file: join(dir, 'absent.yaml') }).message, /^cannot read config file .*absent\.yaml \(ENOENT\)$/);
    assert.match(configError({ file: file('bad.yaml', 'mqtt: [1, 2\n') }).message, /is not valid YAML/);
    assert.match(configError({ file: file('bad.json', '{"mqtt": ') }).message, /is not valid JSON/);
    assert.match(configError({ file: file('list.yaml', '- 1\n') }).message, /must hold a mapping of keys/);
    assert.equal(configError({ file: file('fsync.yaml', 'storage:\n  fsync: sometimes\n') }).key, 'storage.fsync');
  });

  it('checks auth rules and listener port clashes', () => {
    assert.match(configError({ overrides: { auth: { rules: [{ user: 'a', address: 'x.#' }] } } }).message, /^auth\.rules\[0\]: must have "allow" or "deny"/);
    assert.match(
      configError({ overrides: { auth: { rules: [{ user: 'a', allow: ['publish'], address: 'x.a#' }] } } }).message,
      /^auth\.rules\[0\]\.address: must be dot-separated words/,
    );
    assert.match(configError({ overrides: { auth: { rules: [{ user: 'a', allow: ['pub'], address: 'x' }] } } }).message, /^auth\.rules\[0\]\.allow\[0\]: must be one of publish/);
    assert.match(configError({ argv: ['--mqtt-port', '5672'] }).message, /^amqp\.port: 5672 is also mqtt\.port/);
    // TLS ports count only when a certificate is configured.
    assert.equal(loadConfig({ argv: ['--mqtt-port', '8883'] }).mqtt.port, 8883);
  });

  it('a users file turns anonymous access off unless allowAnonymous is set explicitly', () => {
    assert.equal(loadConfig({ argv: ['--users-file', '/u.yaml'] }).auth.allowAnonymous, false);
    assert.equal(loadConfig({ argv: ['--users-file', '/u.yaml'], env: { JUNCTION_AUTH_ALLOW_ANONYMOUS: 'true' } }).auth.allowAnonymous, true);
    assert.equal(loadConfig().auth.allowAnonymous, true);
  });
});
