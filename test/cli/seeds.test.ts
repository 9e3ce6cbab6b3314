/**
 * The seed documents' Kafka shell commands, copied verbatim below, run with `bin/kafka-<tool>.sh`
 * replaced by `junction <tool>`, `localhost:9092` by the test broker's Kafka listener and the
 * placeholders (`<topic_name>` ...) filled in; then what Kafka 3 says to flags it no longer has,
 * and the progress a terminal shows (the CLI run under `script`, which gives it a pseudo-terminal).
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { removeTempDir, startBroker, tempDir, type RunningBroker } from '../support/index.js';
import { BIN, junction, oneLineFailure, printed, start, startProcess, type CliResult } from './run.js';

/** Seed 000 (a Kafka 2.4 quick start), lines 79-109 as written. */
const SEED_QUICKSTART = [
  'bin/kafka-topics.sh --create --bootstrap-server localhost:9092 --replication-factor 1 --partitions 1 --topic test',
  'bin/kafka-topics.sh --list --bootstrap-server localhost:9092',
  'bin/kafka-console-producer.sh --broker-list localhost:9092 --topic test',
  'bin/kafka-console-consumer.sh --bootstrap-server localhost:9092 --topic test --from-beginning',
  'bin/kafka-topics.sh --create --bootstrap-server localhost:9092 --replication-factor 3 --partitions 1 --topic my-replicated-topic',
  'bin/kafka-topics.sh --describe --bootstrap-server localhost:9092 --topic my-replicated-topic',
  'bin/kafka-topics.sh --describe --bootstrap-server localhost:9092 --topic test',
  'bin/kafka-topics.sh --create --bootstrap-server 10.170.15.54:9092 --replication-factor 1 --partitions 1 --topic hello',
  'bin/kafka-topics.sh --list --bootstrap-server 10.170.15.54:9092',
];

/** Seed 001 ("KafkaShell命令操作"), with its placeholders. */
const SEED_SHELL = [
  'kafka-topics.sh --create --topic <topic_name> --bootstrap-server <bootstrap_servers> --partitions <num_partitions> --replication-factor <replication_factor>',
  'kafka-topics.sh --list --bootstrap-server <bootstrap_servers>',
  'kafka-topics.sh --describe --topic <topic_name> --bootstrap-server <bootstrap_servers>',
  'kafka-console-producer.sh --topic <topic_name> --bootstrap-server <bootstrap_servers>',
  'kafka-console-consumer.sh --topic <topic_name> --from-beginning --bootstrap-server <bootstrap_servers>',
  'kafka-consumer-groups.sh --describe --group <group_id> --bootstrap-server <bootstrap_servers>',
];

describe('cli: the seed documents\' Kafka commands, literally', function () {
  this.timeout(90_000);
  let b: RunningBroker;
  let port: number;
  /** `bin/kafka-topics.sh --list ...` -> `['topics', '--list', ...]` against the test broker. */
  const argsOf = (line: string, fill: Record<string, string> = {}): string[] => {
    const words = line.replace(/(localhost|10\.170\.15\.54):9092/g, `localhost:${port}`).replace(/<(\w+)>/g, (_, k: string) => fill[k]).split(' ');
    const tool = /^(?:bin\/)?kafka-([a-z-]+)\.sh$/.exec(words[0]);
    assert.ok(tool, words[0]);
    return [tool[1], ...words.slice(1)];
  };
  /** A command that runs until Ctrl-C: started, given time to print `expect`, then sent SIGINT. */
  const untilCtrlC = async (args: string[], expect: RegExp): Promise<CliResult> => {
    const running = start(args);
    await printed(running, expect);
    running.child.kill('SIGINT');
    return running.result;
  };

  before(async () => {
    b = await startBroker({ kafka: { groupInitialRebalanceDelayMs: 0 } } as never);
    port = b.ports.kafka!;
  });
  after(async () => { await b?.close(); });

  it('seed 000: create, list, produce, consume from the beginning until Ctrl-C, replicated topic, describe', async () => {
    const [create, list, produce, consume, createReplicated, describeReplicated, describeTest, createHello, listAgain] = SEED_QUICKSTART.map((l) => argsOf(l));
    let r = await junction(create);
    assert.deepEqual([r.code, r.stdout, r.stderr], [0, 'Created topic test.\n', '']);
    r = await junction(list);
    assert.deepEqual([r.code, r.stdout, r.stderr], [0, 'test\n', '']);
    r = await junction(produce, 'xxx\n'); // "# send xxx"
    assert.deepEqual([r.code, r.stdout, r.stderr], [0, '', '']);
    r = await untilCtrlC(consume, /xxx\n/); // "# echo xxx"
    assert.deepEqual([r.code, r.stdout, r.stderr], [0, 'xxx\n', 'Processed a total of 1 messages\n']);

    // The seed starts two more brokers first; on one node Kafka refuses a replication factor of 3.
    assert.equal(oneLineFailure(await junction(createReplicated)), 'Error while executing topic command : replication factor: 3 larger than available brokers: 1');
    assert.equal(oneLineFailure(await junction(describeReplicated)), "Error while executing topic command : Topic 'my-replicated-topic' does not exist as expected");
    r = await junction(describeTest);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Topic: test\tTopicId: [A-Za-z0-9_-]{22}\tPartitionCount: 1\tReplicationFactor: 1\tConfigs: \n\tTopic: test\tPartition: 0\tLeader: 0\tReplicas: 0\tIsr: 0\n$/);

    assert.equal((await junction(createHello)).stdout, 'Created topic hello.\n');
    assert.equal((await junction(listAgain)).stdout, 'hello\ntest\n');
  });

  it('seed 001: the same workflow with a consumer group, then the group\'s lag', async () => {
    const fill = { topic_name: 'news_tag', bootstrap_servers: `localhost:${port}`, num_partitions: '6', replication_factor: '1', group_id: 'test' };
    const [create, list, describe, produce, consume, groups] = SEED_SHELL.map((l) => argsOf(l, fill));
    let r = await junction(create);
    assert.deepEqual([r.code, r.stdout, r.stderr], [0, 'Created topic news_tag.\n', '']);
    assert.match((await junction(list)).stdout, /^hello\nnews_tag\ntest\n$/);
    r = await junction(describe);
    const lines = r.stdout.trimEnd().split('\n');
    assert.match(lines[0], /^Topic: news_tag\tTopicId: \S{22}\tPartitionCount: 6\tReplicationFactor: 1\tConfigs: $/);
    assert.deepEqual(lines.slice(1), [0, 1, 2, 3, 4, 5].map((p) => `\tTopic: news_tag\tPartition: ${p}\tLeader: 0\tReplicas: 0\tIsr: 0`));

    const news = Array.from({ length: 12 }, (_, i) => `news-${i}`);
    r = await junction(produce, news.map((n) => `${n}\n`).join(''));
    assert.deepEqual([r.code, r.stderr], [0, '']);
    r = await untilCtrlC(consume, /^(?:news-\d+\n){12}$/);
    assert.equal(r.code, 0);
    assert.deepEqual(r.stdout.trimEnd().split('\n').sort(), [...news].sort(), 'every line once (partitions interleave)');
    assert.equal(r.stderr, 'Processed a total of 12 messages\n');

    // Seed 003's Python consumer uses group_id='test'; here a console consumer of that group reads 5.
    r = await junction(['console-consumer', '--bootstrap-server', `localhost:${port}`, '--topic', 'news_tag', '--group', 'test', '--from-beginning', '--max-messages', '5']);
    assert.deepEqual([r.code, r.stdout.trimEnd().split('\n').length, r.stderr], [0, 5, 'Processed a total of 5 messages\n']);
    r = await junction(groups);
    assert.equal(r.code, 0);
    assert.equal(r.stderr, "\nConsumer group 'test' has no active members.\n");
    const [blank, header, ...rows] = r.stdout.trimEnd().split('\n');
    assert.equal(blank, '');
    assert.equal(header, 'GROUP           TOPIC           PARTITION  CURRENT-OFFSET  LOG-END-OFFSET  LAG             CONSUMER-ID     HOST            CLIENT-ID');
    // One row per partition the consumer printed from (it commits exactly what it printed).
    let current = 0;
    for (const row of rows) {
      const m = /^test {12}news_tag {8}(\d) {10}(\d+) +(\d+) +(\d+) +- {15}- {15}-$/.exec(row);
      assert.ok(m, JSON.stringify(row));
      assert.equal(Number(m[2]) + Number(m[4]), Number(m[3]), 'LAG = LOG-END-OFFSET - CURRENT-OFFSET');
      current += Number(m[2]);
    }
    assert.equal(current, 5, '5 of 12 consumed');
  });

  it('flags Kafka 3 no longer has: one line saying so, exit 1', async () => {
    for (const tool of ['topics', 'consumer-groups', 'console-consumer', 'configs']) {
      const line = oneLineFailure(await junction([tool, '--zookeeper', 'localhost:2181', '--list']));
      assert.equal(line, `junction ${tool}: zookeeper is not a recognized option (Kafka 3's tools connect with --bootstrap-server host:port; Junction has no ZooKeeper)`);
    }
  });
});

describe('cli: progress on a terminal, nothing on a pipe', function () {
  this.timeout(90_000);
  let b: RunningBroker;
  let dir: string;
  before(async () => {
    b = await startBroker({ kafka: { groupInitialRebalanceDelayMs: 0 } } as never);
    dir = tempDir();
  });
  after(async () => {
    await b?.close();
    if (dir) removeTempDir(dir);
  });

  /** Runs `sh -c command` under `script` (util-linux): stderr and stdout are a pseudo-terminal unless redirected. */
  const onTerminal = (command: string): Promise<CliResult> => startProcess('script', ['-qfec', command, '/dev/null'], '', 60_000).result;
  const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

  it('console-producer, console-consumer, send, receive: a live counter and a summary on a terminal', async () => {
    const bs = `127.0.0.1:${b.ports.kafka}`;
    const input = join(dir, 'lines.txt');
    writeFileSync(input, Array.from({ length: 5000 }, (_, i) => `line-${i}\n`).join(''));
    const cli = `${quote(process.execPath)} ${quote(BIN)}`;

    let r = await onTerminal(`${cli} console-producer --bootstrap-server ${bs} --topic tty < ${quote(input)}`);
    assert.equal(r.code, 0, r.stdout);
    assert.match(r.stdout, /sent \d+ records, \d+\/s/, 'the live counter');
    assert.match(r.stdout, /sent 5000 records in \d+\.\d s \(\d+\/s\)\r?\n/, 'the summary');

    r = await onTerminal(`${cli} console-consumer --bootstrap-server ${bs} --topic tty --from-beginning --max-messages 5000 > ${quote(join(dir, 'out.txt'))}`);
    assert.equal(r.code, 0, r.stdout);
    assert.match(r.stdout, /received \d+ records, \d+\/s/);
    assert.match(r.stdout, /received 5000 records in \d+\.\d s \(\d+\/s\)\r?\nProcessed a total of 5000 messages\r?\n/);

    r = await onTerminal(`${cli} send kafka://${bs}/tty < ${quote(input)}`);
    assert.equal(r.code, 0, r.stdout);
    assert.match(r.stdout, /sent 5000 records in \d+\.\d s \(\d+\/s\)\r?\n/);
    r = await onTerminal(`${cli} receive kafka://${bs}/tty --from-beginning --count 10000 > ${quote(join(dir, 'out2.txt'))}`);
    assert.equal(r.code, 0, r.stdout);
    assert.match(r.stdout, /received 10000 records in \d+\.\d s \(\d+\/s\)\r?\n/);

    // The same on pipes: results only.
    const p = await junction(['console-producer', '--bootstrap-server', bs, '--topic', 'tty'], 'one more\n');
    assert.deepEqual([p.code, p.stdout, p.stderr], [0, '', '']);
    const c = await junction(['receive', `kafka://${bs}/tty`, '--from-beginning', '--count', '10001']);
    assert.deepEqual([c.code, c.stdout.split('\n').length, c.stderr], [0, 10002, '']);
  });
});

describe('cli: a reader that goes away (| head)', function () {
  this.timeout(60_000);
  let b: RunningBroker;
  before(async () => { b = await startBroker({ kafka: { groupInitialRebalanceDelayMs: 0 } } as never); });
  after(async () => { await b?.close(); });

  it('console-consumer and receive end as on Ctrl-C, without a stack trace', async () => {
    const bs = `127.0.0.1:${b.ports.kafka}`;
    const lines = Array.from({ length: 20000 }, (_, i) => `r${i}\n`).join('');
    assert.equal((await junction(['console-producer', '--bootstrap-server', bs, '--topic', 'many'], lines)).code, 0);
    for (const args of [
      ['console-consumer', '--bootstrap-server', bs, '--topic', 'many', '--from-beginning'],
      ['receive', `kafka://${bs}/many`, '--from-beginning'],
    ]) {
      const running = start(args);
      await printed(running, /\n/);
      running.child.stdout!.destroy(); // what `| head -1` does after its line
      const r = await running.result;
      assert.equal(r.code, 0, `${args[0]}: ${r.stderr}`);
      assert.doesNotMatch(r.stderr, /EPIPE|\n\s+at /, args[0]);
      if (args[0] === 'console-consumer') assert.match(r.stderr, /^Processed a total of \d+ messages\n$/);
    }
  });
});
