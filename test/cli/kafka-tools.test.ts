/**
 * The seed documents' Kafka commands with `bin/kafka-<tool>.sh` replaced by `junction <tool>`,
 * run as child processes against a broker started here, outputs checked literally.
 */
import assert from 'node:assert/strict';
import { startBroker, type RunningBroker } from '../support/index.js';
import { junction, oneLineFailure } from './run.js';

describe('cli: Kafka tools (topics, console-producer, console-consumer, consumer-groups, configs)', function () {
  this.timeout(60_000);
  let b: RunningBroker;
  let bs: string;
  before(async () => {
    b = await startBroker({ kafka: { groupInitialRebalanceDelayMs: 0 } } as never);
    bs = `127.0.0.1:${b.ports.kafka}`;
  });
  after(async () => { await b?.close(); });

  it('topics: create with 1 and 3 partitions, list, describe in Kafka\'s format', async () => {
    let r = await junction(['topics', '--create', '--bootstrap-server', bs, '--replication-factor', '1', '--partitions', '1', '--topic', 'test']);
    assert.deepEqual([r.code, r.stdout, r.stderr], [0, 'Created topic test.\n', '']);
    r = await junction(['topics', '--create', '--topic', 'multi', '--bootstrap-server', bs, '--partitions', '3', '--replication-factor', '1', '--config', 'retention.ms=3600000']);
    assert.equal(r.stdout, 'Created topic multi.\n');
    r = await junction(['topics', '--list', '--bootstrap-server', bs]);
    assert.deepEqual([r.code, r.stdout], [0, 'multi\ntest\n']);
    r = await junction(['topics', '--describe', '--bootstrap-server', bs, '--topic', 'test']);
    assert.match(r.stdout, /^Topic: test\tTopicId: [A-Za-z0-9_-]{22}\tPartitionCount: 1\tReplicationFactor: 1\tConfigs: \n\tTopic: test\tPartition: 0\tLeader: 0\tReplicas: 0\tIsr: 0\n$/);
    r = await junction(['topics', '--describe', '--topic', 'multi', '--bootstrap-server', bs]);
    const lines = r.stdout.split('\n');
    assert.match(lines[0], /^Topic: multi\tTopicId: \S+\tPartitionCount: 3\tReplicationFactor: 1\tConfigs: retention.ms=3600000$/);
    assert.deepEqual(lines.slice(1), [0, 1, 2].map((p) => `\tTopic: multi\tPartition: ${p}\tLeader: 0\tReplicas: 0\tIsr: 0`).concat(''));
    r = await junction(['topics', '--describe', '--bootstrap-server', bs]);
    assert.deepEqual(r.stdout.split('\n').filter((l) => l.startsWith('Topic:')).map((l) => l.split('\t')[0]), ['Topic: multi', 'Topic: test']);
  });

  it('topics: --if-not-exists, alter partitions, delete, --if-exists; failures are one line', async () => {
    await junction(['topics', '--create', '--bootstrap-server', bs, '--topic', 'scratch']);
    let r = await junction(['topics', '--create', '--bootstrap-server', bs, '--topic', 'scratch', '--if-not-exists']);
    assert.deepEqual([r.code, r.stdout, r.stderr], [0, '', '']);
    r = await junction(['topics', '--create', '--bootstrap-server', bs, '--topic', 'scratch']);
    assert.equal(oneLineFailure(r), "Error while executing topic command : Topic 'scratch' already exists.");
    r = await junction(['topics', '--alter', '--bootstrap-server', bs, '--topic', 'scratch', '--partitions', '4']);
    assert.equal(r.code, 0);
    r = await junction(['topics', '--describe', '--bootstrap-server', bs, '--topic', 'scratch']);
    assert.match(r.stdout, /PartitionCount: 4\t/);
    r = await junction(['topics', '--alter', '--bootstrap-server', bs, '--topic', 'scratch', '--partitions', '2']);
    assert.match(oneLineFailure(r), /Topic currently has 4 partitions, which is higher than the requested 2/);
    r = await junction(['topics', '--delete', '--bootstrap-server', bs, '--topic', 'scratch']);
    assert.deepEqual([r.code, r.stdout], [0, '']);
    r = await junction(['topics', '--list', '--bootstrap-server', bs]);
    assert.ok(!r.stdout.split('\n').includes('scratch'));
    r = await junction(['topics', '--delete', '--bootstrap-server', bs, '--topic', 'scratch']);
    assert.equal(oneLineFailure(r), "Error while executing topic command : Topic 'scratch' does not exist as expected");
    r = await junction(['topics', '--delete', '--bootstrap-server', bs, '--topic', 'scratch', '--if-exists']);
    assert.deepEqual([r.code, r.stderr], [0, '']);
  });

  it('console-producer and console-consumer: lines, keys, from the beginning, formatter properties', async () => {
    let r = await junction(['console-producer', '--broker-list', bs, '--topic', 'test'], 'hello\nworld\n');
    assert.deepEqual([r.code, r.stdout, r.stderr], [0, '', ''], 'nothing but results on a pipe: no prompt, no progress');
    r = await junction(['console-consumer', '--bootstrap-server', bs, '--topic', 'test', '--from-beginning', '--max-messages', '2']);
    assert.deepEqual([r.code, r.stdout, r.stderr], [0, 'hello\nworld\n', 'Processed a total of 2 messages\n']);

    r = await junction(['console-producer', '--bootstrap-server', bs, '--topic', 'multi', '--property', 'parse.key=true', '--property', 'key.separator=:', '--producer-property', 'acks=all', '--compression-codec', 'gzip'], 'k1:v1\nk2:v2\nk1:v3\n');
    assert.equal(r.code, 0, r.stderr);
    r = await junction(['console-consumer', '--bootstrap-server', bs, '--topic', 'multi', '--from-beginning', '--max-messages', '3', '--property', 'print.key=true', '--property', 'print.partition=true', '--property', 'print.offset=true']);
    const rows = r.stdout.trimEnd().split('\n').map((l) => l.split('\t'));
    assert.deepEqual(rows.map((x) => `${x[2]}=${x[3]}`).sort(), ['k1=v1', 'k1=v3', 'k2=v2']);
    const k1 = rows.filter((x) => x[2] === 'k1');
    assert.equal(k1[0][0], k1[1][0], 'one key, one partition');
    assert.deepEqual(k1.map((x) => x[1]), ['Offset:0', 'Offset:1']);

    r = await junction(['console-consumer', '--bootstrap-server', bs, '--topic', 'test', '--partition', '0', '--offset', '1', '--max-messages', '1', '--property', 'print.timestamp=true']);
    assert.match(r.stdout, /^CreateTime:\d{13}\tworld\n$/);
    r = await junction(['console-consumer', '--bootstrap-server', bs, '--topic', 'test', '--from-beginning', '--timeout-ms', '1500']);
    assert.deepEqual([r.code, r.stdout, r.stderr], [0, 'hello\nworld\n', 'Processed a total of 2 messages\n']);
  });

  it('console-producer: a record the broker refuses gets its error line, the others are delivered, exit 1', async () => {
    await junction(['topics', '--create', '--bootstrap-server', bs, '--topic', 'small', '--config', 'max.message.bytes=200']);
    const r = await junction(['console-producer', '--bootstrap-server', bs, '--topic', 'small'], `short\n${'x'.repeat(500)}\nafter\n`);
    assert.equal(oneLineFailure(r), 'Error when sending message to topic small with key: null, value: 500 bytes with error: The request included a message larger than the max message size the server will accept (MESSAGE_TOO_LARGE)');
    const c = await junction(['console-consumer', '--bootstrap-server', bs, '--topic', 'small', '--from-beginning', '--max-messages', '2']);
    assert.equal(c.stdout, 'short\nafter\n');
  });

  it('consumer-groups: lag after partial consumption, reset offsets (dry run, execute), delete', async () => {
    await junction(['topics', '--create', '--bootstrap-server', bs, '--topic', 'orders', '--partitions', '1']);
    await junction(['console-producer', '--bootstrap-server', bs, '--topic', 'orders'], 'o1\no2\no3\no4\no5\n');
    let r = await junction(['console-consumer', '--bootstrap-server', bs, '--topic', 'orders', '--from-beginning', '--group', 'billing', '--max-messages', '2']);
    assert.equal(r.stdout, 'o1\no2\n');
    r = await junction(['consumer-groups', '--list', '--bootstrap-server', bs]);
    assert.equal(r.stdout, 'billing\n');
    r = await junction(['consumer-groups', '--describe', '--group', 'billing', '--bootstrap-server', bs]);
    assert.equal(r.code, 0);
    assert.equal(r.stderr, "\nConsumer group 'billing' has no active members.\n");
    assert.equal(r.stdout, [
      '',
      'GROUP           TOPIC           PARTITION  CURRENT-OFFSET  LOG-END-OFFSET  LAG             CONSUMER-ID     HOST            CLIENT-ID',
      'billing         orders          0          2               5               3               -               -               -',
      '',
    ].join('\n'));

    r = await junction(['consumer-groups', '--bootstrap-server', bs, '--reset-offsets', '--group', 'billing', '--topic', 'orders', '--to-earliest', '--dry-run']);
    assert.equal(r.stdout, '\nGROUP                          TOPIC                          PARTITION  NEW-OFFSET     \nbilling                        orders                         0          0              \n');
    r = await junction(['consumer-groups', '--bootstrap-server', bs, '--describe', '--group', 'billing']);
    assert.match(r.stdout, /billing +orders +0 +2 +5 +3 /, 'a dry run changes nothing');
    r = await junction(['consumer-groups', '--bootstrap-server', bs, '--reset-offsets', '--group', 'billing', '--topic', 'orders', '--to-offset', '4', '--execute']);
    assert.match(r.stdout, /billing +orders +0 +4 +\n$/);
    r = await junction(['consumer-groups', '--bootstrap-server', bs, '--describe', '--group', 'billing']);
    assert.match(r.stdout, /billing +orders +0 +4 +5 +1 /);
    r = await junction(['consumer-groups', '--bootstrap-server', bs, '--reset-offsets', '--group', 'billing', '--all-topics', '--shift-by', '-3', '--execute']);
    assert.match(r.stdout, /billing +orders +0 +1 +\n$/);
    r = await junction(['console-consumer', '--bootstrap-server', bs, '--topic', 'orders', '--group', 'billing', '--max-messages', '1']);
    assert.equal(r.stdout, 'o2\n', 'the group resumes at the reset offset');

    r = await junction(['consumer-groups', '--bootstrap-server', bs, '--delete', '--group', 'billing']);
    assert.deepEqual([r.code, r.stdout], [0, "Deletion of requested consumer groups ('billing') was successful.\n"]);
    r = await junction(['consumer-groups', '--bootstrap-server', bs, '--describe', '--group', 'billing']);
    assert.equal(oneLineFailure(r), "Error: Consumer group 'billing' does not exist.");
  });

  it('consumer-groups --describe --members and --state show a running member', async () => {
    const { start } = await import('./run.js');
    const consumer = start(['console-consumer', '--bootstrap-server', bs, '--topic', 'orders', '--group', 'live', '--from-beginning']);
    try {
      let r;
      for (let i = 0; i < 40; i++) {
        r = await junction(['consumer-groups', '--bootstrap-server', bs, '--describe', '--group', 'live', '--state']);
        if (/Stable/.test(r.stdout)) break;
        await new Promise((res) => setTimeout(res, 250));
      }
      // Kafka 3's printf layouts: `%-Ws` columns, W the longest value (at least 15; 25 for the coordinator).
      const coordinator = `127.0.0.1:${b.ports.kafka}  (0)`.padEnd(25);
      assert.equal(r!.stdout, `\n${'GROUP'.padEnd(25)} ${'COORDINATOR (ID)'.padEnd(25)} ASSIGNMENT-STRATEGY  STATE           #MEMBERS\n`
        + `${'live'.padEnd(25)} ${coordinator} ${'RoundRobinAssigner'.padEnd(20)} Stable          1\n`);
      r = await junction(['consumer-groups', '--bootstrap-server', bs, '--describe', '--group', 'live', '--members', '--verbose']);
      const m = /^\nGROUP           (CONSUMER-ID +)(HOST +)CLIENT-ID        #PARTITIONS     ASSIGNMENT\nlive            (console-consumer-\S+ +)(\S+ +)console-consumer 1               orders\(0\)\n$/.exec(r.stdout);
      assert.ok(m, JSON.stringify(r.stdout));
      assert.deepEqual([m[1].length, m[2].length], [m[3].length, m[4].length], 'columns as wide as their longest value');
      r = await junction(['consumer-groups', '--bootstrap-server', bs, '--describe', '--group', 'live', '--members']);
      assert.match(r.stdout, /^\nGROUP +CONSUMER-ID +HOST +CLIENT-ID +#PARTITIONS {5}\nlive +console-consumer-\S+ +\S+ +console-consumer 1 {15}\n$/, 'Kafka\'s trailing `%-15s `');
      r = await junction(['consumer-groups', '--bootstrap-server', bs, '--describe', '--group', 'live']);
      assert.match(r.stdout, /^\nGROUP +TOPIC +PARTITION +CURRENT-OFFSET +LOG-END-OFFSET +LAG +CONSUMER-ID +HOST +CLIENT-ID\nlive +orders +0 +\S+ +5 +\S+ +console-consumer-\S+ +\S+ +console-consumer\n$/);
      r = await junction(['consumer-groups', '--bootstrap-server', bs, '--reset-offsets', '--group', 'live', '--topic', 'orders', '--to-earliest', '--execute']);
      assert.equal(oneLineFailure(r), "Error: Assignments can only be reset if the group 'live' is inactive, but the current state is Stable.");
    } finally {
      consumer.child.kill('SIGINT');
    }
    const done = await consumer.result;
    assert.equal(done.code, 0);
    assert.equal(done.stdout, 'o1\no2\no3\no4\no5\n');
    assert.equal(done.stderr, 'Processed a total of 5 messages\n');
  });

  it('consumer-groups --reset-offsets --to-latest, --to-datetime, --by-duration; console-consumer --include', async () => {
    await junction(['topics', '--create', '--bootstrap-server', bs, '--topic', 'times.a']);
    await junction(['console-producer', '--bootstrap-server', bs, '--topic', 'times.a'], 'a1\na2\n');
    await new Promise((res) => setTimeout(res, 50)); // the records after `middle` get later timestamps
    const middle = new Date().toISOString();
    await new Promise((res) => setTimeout(res, 50));
    await junction(['console-producer', '--bootstrap-server', bs, '--topic', 'times.a'], 'b1\nb2\n');
    let r = await junction(['console-consumer', '--bootstrap-server', bs, '--topic', 'times.a', '--group', 'tg', '--from-beginning', '--max-messages', '1']);
    assert.equal(r.stdout, 'a1\n');
    const reset = async (...how: string[]) => {
      const res = await junction(['consumer-groups', '--bootstrap-server', bs, '--reset-offsets', '--group', 'tg', '--topic', 'times.a', ...how, '--execute']);
      assert.equal(res.code, 0, res.stderr);
      return /^tg +times\.a +0 +(\d+) +$/m.exec(res.stdout)?.[1];
    };
    assert.equal(await reset('--to-latest'), '4');
    assert.equal(await reset('--to-datetime', middle), '2');
    assert.equal(await reset('--by-duration', 'PT1H'), '0');
    assert.equal(await reset('--to-current'), '0');
    assert.match(oneLineFailure(await junction(['consumer-groups', '--bootstrap-server', bs, '--reset-offsets', '--group', 'tg', '--topic', 'times.a', '--to-datetime', 'yesterday'])), /--to-datetime: expected YYYY-MM-DDTHH:mm:SS.sss, got "yesterday"/);

    await junction(['console-producer', '--bootstrap-server', bs, '--topic', 'times.b'], 'c1\n');
    r = await junction(['console-consumer', '--bootstrap-server', bs, '--include', 'times\\..*', '--from-beginning', '--max-messages', '5']);
    assert.deepEqual(r.stdout.trimEnd().split('\n').sort(), ['a1', 'a2', 'b1', 'b2', 'c1']);
  });

  it('configs: describe and alter topic configs', async () => {
    let r = await junction(['configs', '--bootstrap-server', bs, '--entity-type', 'topics', '--entity-name', 'multi', '--describe']);
    assert.equal(r.stdout, 'Dynamic configs for topic multi are:\n  retention.ms=3600000 sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:retention.ms=3600000}\n');
    r = await junction(['configs', '--bootstrap-server', bs, '--entity-type', 'topics', '--entity-name', 'multi', '--alter', '--add-config', 'retention.bytes=1048576,retention.ms=60000']);
    assert.equal(r.stdout, 'Completed updating config for topic multi.\n');
    assert.equal(b.broker.getStream('multi')!.config.retentionBytes, 1048576);
    r = await junction(['configs', '--bootstrap-server', bs, '--entity-type', 'topics', '--entity-name', 'multi', '--alter', '--delete-config', 'retention.bytes']);
    assert.equal(r.code, 0);
    r = await junction(['configs', '--bootstrap-server', bs, '--topic', 'multi', '--describe']);
    assert.equal(r.stdout, 'Dynamic configs for topic multi are:\n  retention.ms=60000 sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:retention.ms=60000}\n');
    r = await junction(['configs', '--bootstrap-server', bs, '--entity-type', 'brokers', '--entity-name', '0', '--describe', '--all']);
    assert.match(r.stdout, /^All configs for broker 0 are:\n/);
    assert.match(r.stdout, /\n  num\.partitions=1 sensitive=false synonyms=\{STATIC_BROKER_CONFIG:num\.partitions=1\}\n/);
    r = await junction(['configs', '--bootstrap-server', bs, '--entity-type', 'topics', '--entity-name', 'nope', '--describe']);
    assert.equal(oneLineFailure(r), "Error while executing config command: topic 'nope' does not exist");
  });

  it('bad flags, unreachable broker, unknown topic: one line, exit 1', async () => {
    assert.equal(oneLineFailure(await junction(['topics', '--list', '--bootstrap-server', bs, '--bogus'])), "junction topics: unknown option '--bogus' (see junction topics --help)");
    assert.match(oneLineFailure(await junction(['topics', '--create', '--bootstrap-server', bs, '--topic', 't', '--partitions', 'many'])), /--partitions <n>.*many.*not an integer/);
    assert.match(oneLineFailure(await junction(['topics', '--list'])), /--bootstrap-server is required/);
    assert.match(oneLineFailure(await junction(['topics', '--bootstrap-server', bs])), /exactly one of --create, --list, --describe, --delete, --alter/);
    assert.match(oneLineFailure(await junction(['console-consumer', '--bootstrap-server', bs, '--topic', 'test', '--property', 'print.nothing=true'])), /--property print\.nothing/);
    assert.match(oneLineFailure(await junction(['console-producer', '--bootstrap-server', bs])), /required option '--topic <name>' not specified/);
    for (const args of [
      ['topics', '--list', '--bootstrap-server', '127.0.0.1:1'],
      ['console-producer', '--bootstrap-server', '127.0.0.1:1', '--topic', 'test'],
      ['console-consumer', '--bootstrap-server', '127.0.0.1:1', '--topic', 'test'],
      ['consumer-groups', '--list', '--bootstrap-server', '127.0.0.1:1'],
      ['configs', '--bootstrap-server', '127.0.0.1:1', '--topic', 'test', '--describe'],
    ]) {
      assert.equal(oneLineFailure(await junction(args, 'x\n')), 'cannot reach the Kafka broker at 127.0.0.1:1: Connection error: connect ECONNREFUSED 127.0.0.1:1', args[0]);
    }
    assert.equal(oneLineFailure(await junction(['console-consumer', '--bootstrap-server', bs, '--topic', 'nope', '--from-beginning'])), "junction console-consumer: topic 'nope' does not exist");
    assert.equal(oneLineFailure(await junction(['topics', '--describe', '--bootstrap-server', bs, '--topic', 'nope'])), "Error while executing topic command : Topic 'nope' does not exist as expected");
  });

  it('--help on every command', async () => {
    for (const tool of ['topics', 'console-producer', 'console-consumer', 'consumer-groups', 'configs', 'send', 'receive']) {
      const r = await junction([tool, '--help']);
      assert.equal(r.code, 0, tool);
      assert.match(r.stdout, new RegExp(`^Usage: junction ${tool} `), tool);
      assert.equal(r.stderr, '');
    }
    const top = await junction(['--help']);
    for (const tool of ['topics', 'console-producer', 'console-consumer', 'consumer-groups', 'configs', 'send', 'receive']) assert.match(top.stdout, new RegExp(`junction ${tool}`));
  });
});

describe('cli: unknown topics on a broker that does not create them on first use', function () {
  this.timeout(60_000);
  let b: RunningBroker;
  before(async () => { b = await startBroker({ kafka: { autoCreateTopics: false } } as never); });
  after(async () => { await b?.close(); });

  it('console-producer, console-consumer, send, receive: one line, exit 1', async () => {
    const bs = `127.0.0.1:${b.ports.kafka}`;
    assert.equal(oneLineFailure(await junction(['console-producer', '--bootstrap-server', bs, '--topic', 'nope'], 'x\n')), "junction console-producer: topic 'nope' does not exist (and the broker does not create topics on first use)");
    assert.equal(oneLineFailure(await junction(['console-consumer', '--bootstrap-server', bs, '--topic', 'nope'])), "junction console-consumer: topic 'nope' does not exist");
    assert.match(oneLineFailure(await junction(['send', `kafka://${bs}/nope`, 'x'])), /^junction send: topic 'nope' does not exist/);
    assert.equal(oneLineFailure(await junction(['receive', `kafka://${bs}/nope`])), "junction receive: topic 'nope' does not exist");
  });
});
