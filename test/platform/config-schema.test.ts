/**
 * Typed settings: one schema (the platform's sections and every adapter's) validated by one ajv
 * instance. Unknown keys and bad values in any section stop start-up with one line naming the key;
 * config/default.yaml and docs/configuration.md agree with the schema key for key.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { ADAPTER_NAMES, loadAdapters } from '../../adapters/index.js';
import { ConfigError, defaultConfigPath, loadConfig, type LoadOptions } from '../../config/load.js';
import { schemaKeys, withGeneratedTables } from '../../config/reference.js';
import { configSchema } from '../../config/schema.js';
import { listenerTlsSchema } from '../../config/sections/common.js';
import { schemaDefaults } from '../../config/validate.js';
import { removeTempDir, tempDir } from '../support/index.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const BIN = join(ROOT, 'bin', 'junction.js');
const DOC = join(ROOT, 'docs', 'configuration.md');

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const sections = configSchema.properties as Record<string, any>;
const SECTION_NAMES = Object.keys(sections).filter((n) => sections[n].type === 'object');

function configError(opts: LoadOptions): ConfigError {
  try {
    loadConfig(opts);
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${String(e)}`);
    assert.ok(!e.message.includes('\n'), `error must be one line: ${e.message}`);
    return e;
  }
  assert.fail(`expected a ConfigError for ${JSON.stringify(opts)}`);
}

/** `junction start` with a fixed environment; returns its exit status and output. */
function start(args: string[]) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('JUNCTION_')));
  const r = spawnSync(process.execPath, [BIN, 'start', '--in-memory', ...args], { env, encoding: 'utf8', timeout: 60000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Every key path of the schema a user can set (a listener's `tls` counted as one key). */
function allKeys(): string[] {
  return schemaKeys(configSchema).map((k) => k.key);
}

describe('platform/config-schema: typed settings', () => {
  let dir: string;
  before(() => (dir = tempDir()));
  after(() => removeTempDir(dir));

  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  it('an unknown key in any section is refused with one line naming it', () => {
    assert.equal(SECTION_NAMES.length, 15, `sections: ${SECTION_NAMES.join(', ')}`);
    for (const name of SECTION_NAMES) {
      const e = configError({ file: file(`${name}.yaml`, `${name}:\n  bogusKey: 1\n`) });
      assert.equal(e.key, `${name}.bogusKey`);
      assert.match(e.message, new RegExp(`^${name}\\.bogusKey: unknown key \\(allowed in ${name}: `));
    }
    // Nested objects too: an adapter's sub-sections and a listener's tls.
    assert.match(configError({ overrides: { xmpp: { pubsub: { maxItem: 5 } } } }).message, /^xmpp\.pubsub\.maxItem: unknown key \(allowed in xmpp\.pubsub: autoCreate, maxItems, sendLastItemOnSubscribe\)$/);
    assert.match(configError({ overrides: { kafka: { tls: { certificate: 'x' } } } }).message, /^kafka\.tls\.certificate: unknown key/);
    assert.match(configError({ env: { JUNCTION_MQTT__MAX_INFLIGHTS: '3' } }).message, /^environment variable JUNCTION_MQTT__MAX_INFLIGHTS names no configuration key/);
  });

  it('a bad value in each adapter section is one line naming the key and what is allowed', () => {
    const cases: Array<[LoadOptions, string]> = [
      [{ argv: ['--set', 'mqtt.maxPacketSize=3'] }, 'mqtt.maxPacketSize: must be an integer from 64 to 268435455, or null (got 3)'],
      [{ overrides: { mqtt: { maxQos: 3 } } }, 'mqtt.maxQos: must be one of 0, 1, 2 (got 3)'],
      [{ overrides: { mqtt: { websocketPath: 'mqtt' } } }, 'mqtt.websocketPath: must be a path starting with "/", or null (got "mqtt")'],
      [{ env: { JUNCTION_AMQP_BARE_NAME: 'anything' } }, 'amqp.bareName: must be one of queue, topic, refuse (got "anything")'],
      [{ overrides: { amqp: { maxFrameSize: 100 } } }, 'amqp.maxFrameSize: must be an integer >= 512 (got 100)'],
      [{ overrides: { stomp: { heartbeatMinMs: 5000, heartbeatMaxMs: 1000 } } }, 'stomp.heartbeatMaxMs: must be an integer >= stomp.heartbeatMinMs (got 1000)'],
      [{ env: { JUNCTION_STOMP_MAX_FRAME_SIZE: 'big' } }, 'stomp.maxFrameSize: must be an integer >= 64 (got "big")'],
      [{ overrides: { xmpp: { domain: 'bad domain' } } }, 'xmpp.domain: must be a domain name (got "bad domain")'],
      [{ overrides: { xmpp: { mechanisms: ['PLAIN', 'DIGEST-MD5'] } } }, 'xmpp.mechanisms[1]: must be one of EXTERNAL, SCRAM-SHA-512, SCRAM-SHA-256, SCRAM-SHA-1, PLAIN, ANONYMOUS (got "DIGEST-MD5")'],
      [{ overrides: { kafka: { advertisedPort: 0 } } }, 'kafka.advertisedPort: must be an integer from 1 to 65535, or null for the bound port (got 0)'],
      [{ overrides: { kafka: { idleTimeoutMs: 'long' } } }, 'kafka.idleTimeoutMs: must be an integer >= 1 (got "long")'],
      [{ overrides: { http: { maxHeaderBytes: 10 } } }, 'http.maxHeaderBytes: must be an integer from 1024 to 1048576 (got 10)'],
    ];
    for (const [opts, message] of cases) {
      const e = configError(opts);
      assert.equal(e.message, message);
      assert.equal(e.key, message.slice(0, message.indexOf(':')));
    }
  });

  it('environment and flags reach adapter keys with the type the schema asks for', () => {
    const c = loadConfig({
      env: { JUNCTION_STOMP_MAX_FRAME_SIZE: '2048', JUNCTION_XMPP_REGISTRATION: 'true', JUNCTION_KAFKA__SASL_MECHANISMS: 'PLAIN' },
      argv: ['--set', 'mqtt.maxPacketSize=4096', '--set', 'amqp.bareName=topic', '--mqtt-port', '1999'],
    });
    assert.deepEqual(
      [c.stomp.maxFrameSize, c.xmpp.registration, c.kafka.saslMechanisms, c.mqtt.maxPacketSize, c.amqp.bareName, c.mqtt.port],
      [2048, true, ['PLAIN'], 4096, 'topic', 1999],
    );
  });

  it('every key has a default, and config/default.yaml holds exactly the schema defaults', () => {
    const defaults = schemaDefaults<Record<string, unknown>>(configSchema);
    for (const { key } of schemaKeys(configSchema)) {
      assert.notEqual(key.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown>)?.[k], defaults), undefined, `${key} has no default`);
    }
    assert.deepEqual(loadConfig(), defaults, 'what ajv fills in is what the schema lists');
    const yaml = parseYaml(readFileSync(defaultConfigPath(), 'utf8')) as Record<string, unknown>;
    assert.deepEqual(yaml, defaults);
    // Loading the file as a configuration changes nothing.
    assert.deepEqual(loadConfig({ file: defaultConfigPath() }), loadConfig());
  });

  it('config/default.yaml has a comment on or above every key', () => {
    const lines = readFileSync(defaultConfigPath(), 'utf8').split('\n');
    const missing: string[] = [];
    lines.forEach((line, i) => {
      const m = /^(\s*)([A-Za-z]\w*):(.*)$/.exec(line);
      if (!m) return;
      const value = m[3].replace(/#.*/, '').trim();
      const isSection = value === '' && /^\s+\w/.test(lines[i + 1] ?? '') && (lines[i + 1].search(/\S/) > m[1].length);
      if (isSection) return;
      if (!line.includes('#') && !/^\s*#/.test(lines[i - 1] ?? '')) missing.push(line.trim());
    });
    assert.deepEqual(missing, []);
  });

  it('docs/configuration.md: generated tables are current, and it documents exactly the schema keys', () => {
    const doc = readFileSync(DOC, 'utf8');
    assert.equal(withGeneratedTables(doc, configSchema), doc, 'stale key tables: run npm run config-reference');
    const documented = new Set<string>();
    let section = '';
    let keyTable = false;
    for (const line of doc.split('\n')) {
      const heading = /^#{2,4} (.*)$/.exec(line);
      if (heading) {
        const name = /`([\w]+)`/.exec(heading[1]);
        section = heading[1] === 'Top level' ? '' : name && sections[name[1]] ? name[1] : '-';
        continue;
      }
      if (/^\| (key|field) \|/.test(line)) keyTable = line.startsWith('| key |');
      if (!keyTable || !line.startsWith('| `') || section === '-') continue;
      const first = line.split(' | ')[0];
      for (const [, key] of first.matchAll(/`([\w.]+)`/g)) documented.add(!section || key.startsWith(`${section}.`) ? key : `${section}.${key}`);
    }
    const keys = allKeys();
    assert.deepEqual(keys.filter((k) => !documented.has(k)), [], 'schema keys missing from docs/configuration.md');
    assert.deepEqual([...documented].filter((k) => !keys.includes(k)), [], 'keys in docs/configuration.md that the schema does not have');
  });

  it("each adapter's own doc lists exactly its section's keys", () => {
    for (const name of ADAPTER_NAMES) {
      const keys = schemaKeys(sections[name]).map((k) => k.key);
      const listed = new Set<string>();
      let inTable = false;
      for (const line of readFileSync(join(ROOT, 'docs', `${name}.md`), 'utf8').split('\n')) {
        if (/^\| key[^|]*\| default \|/.test(line)) inTable = true;
        else if (!line.startsWith('|')) inTable = false;
        else if (inTable && line.startsWith('| `')) {
          for (const [, key] of line.split(' | ')[0].matchAll(/`([\w.]+)`/g)) listed.add(key.startsWith(`${name}.`) ? key.slice(name.length + 1) : key);
        }
      }
      assert.deepEqual(keys.filter((k) => !listed.has(k)), [], `docs/${name}.md lacks keys`);
      assert.deepEqual([...listed].filter((k) => !keys.includes(k)), [], `docs/${name}.md lists keys the schema does not have`);
    }
  });

  it('each adapter declares the section the platform validates (no second copy)', async () => {
    const adapters = await loadAdapters();
    assert.deepEqual(adapters.map((a) => a.name), [...ADAPTER_NAMES]);
    for (const a of adapters) {
      assert.equal(a.settingsSchema, sections[a.name], `${a.name}: settingsSchema is config/schema.ts's section`);
      assert.equal(sections[a.name].properties.tls, listenerTlsSchema);
    }
  });

  it('junction start: an unknown key or a bad value in an adapter section exits 2 with one line', () => {
    const unknown = start(['--config', file('typo.yaml', 'kafka:\n  maxRequestByte: 1000\n')]);
    assert.equal(unknown.status, 2);
    assert.match(unknown.stderr, /^junction: config error: kafka\.maxRequestByte: unknown key \(allowed in kafka: port, tlsPort, tls, [^\n]*\)\n$/);
    assert.equal(unknown.stdout, '');
    const bad = start(['--set', 'xmpp.maxDepth=1']);
    assert.equal(bad.status, 2);
    assert.equal(bad.stderr, 'junction: config error: xmpp.maxDepth: must be an integer >= 4 (got 1)\n');
  });
});
