/**
 * The Kafka tools against listeners that need TLS and SASL, configured as Kafka's tools are: a
 * client properties file (`--command-config`, `--producer.config`, `--consumer.config`) or
 * `--producer-property` / `--consumer-property` flags.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { removeTempDir, requireDebianClient, type RunningBroker, selfSignedCert, startBroker, tempDir } from '../support/index.js';
import { junction, oneLineFailure } from './run.js';

describe('cli: Kafka tools over SASL_SSL and SASL_PLAINTEXT (client properties files and flags)', function () {
  this.timeout(90_000);
  let b: RunningBroker;
  let dir: string;
  let ca: string;
  before(requireDebianClient('openssl'));
  before(async () => {
    dir = tempDir();
    const tls = selfSignedCert(dir);
    ca = tls.cert;
    b = await startBroker({ tls, auth: { allowAnonymous: false, rules: [{ user: 'dave', allow: ['publish', 'subscribe', 'consume', 'admin'], address: '#' }] }, kafka: { tlsPort: -1, groupInitialRebalanceDelayMs: 0 } } as never);
    await b.auth.register!('dave', 'dave-pw');
  });
  after(async () => {
    await b?.close();
    if (dir) removeTempDir(dir);
  });

  it('SASL_SSL with SCRAM-SHA-256 from a properties file: every tool', async () => {
    const props = join(dir, 'client.properties');
    writeFileSync(props, [
      'security.protocol=SASL_SSL',
      `ssl.truststore.location=${ca}`,
      'sasl.mechanism=SCRAM-SHA-256',
      'sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="dave" password="dave-pw";',
      '',
    ].join('\n'));
    const bs = `localhost:${(b.ports as Record<string, number>)['kafka-tls']}`;
    let r = await junction(['topics', '--create', '--bootstrap-server', bs, '--command-config', props, '--topic', 'secure.orders', '--partitions', '2']);
    assert.deepEqual([r.code, r.stdout], [0, 'Created topic secure.orders.\n'], r.stderr);
    r = await junction(['topics', '--describe', '--bootstrap-server', bs, '--command-config', props, '--topic', 'secure.orders']);
    assert.match(r.stdout, /^Topic: secure\.orders\t(TopicId: \S+\t)?PartitionCount: 2\tReplicationFactor: 1\tConfigs: \n/, r.stderr);
    r = await junction(['console-producer', '--bootstrap-server', bs, '--producer.config', props, '--topic', 'secure.orders', '--property', 'parse.key=true', '--property', 'key.separator=:'], 'a:1\nb:2\nc:3\n');
    assert.deepEqual([r.code, r.stderr], [0, '']);
    r = await junction(['console-consumer', '--bootstrap-server', bs, '--consumer.config', props, '--topic', 'secure.orders', '--group', 'sec', '--from-beginning', '--max-messages', '2']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trimEnd().split('\n').length, 2);
    r = await junction(['consumer-groups', '--bootstrap-server', bs, '--command-config', props, '--describe', '--group', 'sec']);
    assert.match(r.stdout, /^\nGROUP +TOPIC +PARTITION +CURRENT-OFFSET +LOG-END-OFFSET +LAG +CONSUMER-ID +HOST +CLIENT-ID\n(sec +secure\.orders +\d +\d +\d +\d +- +- +-\n)+$/, r.stderr);
    r = await junction(['consumer-groups', '--bootstrap-server', bs, '--command-config', props, '--reset-offsets', '--group', 'sec', '--topic', 'secure.orders', '--to-earliest', '--execute']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^\nGROUP +TOPIC +PARTITION +NEW-OFFSET +\n(sec +secure\.orders +\d +0 +\n)+$/);
    r = await junction(['configs', '--bootstrap-server', bs, '--command-config', props, '--entity-type', 'topics', '--entity-name', 'secure.orders', '--alter', '--add-config', 'retention.ms=60000']);
    assert.deepEqual([r.code, r.stdout], [0, 'Completed updating config for topic secure.orders.\n'], r.stderr);
  });

  it('SASL_PLAINTEXT with PLAIN from --producer-property / --consumer-property; no credentials is one line', async () => {
    const bs = `127.0.0.1:${b.ports.kafka}`;
    const sasl = (flag: string) => [flag, 'security.protocol=SASL_PLAINTEXT', flag, 'sasl.mechanism=PLAIN', flag, 'sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="dave" password="dave-pw";'];
    let r = await junction(['console-producer', '--bootstrap-server', bs, '--topic', 'plain.t', ...sasl('--producer-property')], 'p1\n');
    assert.deepEqual([r.code, r.stderr], [0, '']);
    r = await junction(['console-consumer', '--bootstrap-server', bs, '--topic', 'plain.t', '--from-beginning', '--max-messages', '1', ...sasl('--consumer-property')]);
    assert.deepEqual([r.code, r.stdout], [0, 'p1\n'], r.stderr);
    // Without credentials the broker closes the connection after its first request, as Kafka does.
    assert.equal(oneLineFailure(await junction(['topics', '--list', '--bootstrap-server', bs])), `cannot reach the Kafka broker at ${bs}: Closed connection (does the listener need TLS or SASL? see --command-config)`);
    const wrong = ['--command-config', join(dir, 'wrong.properties')];
    writeFileSync(wrong[1], 'security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\nsasl.username=dave\nsasl.password=nope\n');
    assert.match(oneLineFailure(await junction(['topics', '--list', '--bootstrap-server', bs, ...wrong])), /^Error while executing topic command : SASL PLAIN authentication failed/);
  });
});
