/**
 * `npm run bench`: every benchmark that exists, figures printed, peers measured in the same run
 * where they are installed. Select some with `npm run bench -- core storage kafka`.
 * BENCH_SECONDS sets the duration of each timed phase.
 */
const suites: Array<[string, string, string]> = [
  ['core', './core-bench.js', 'runCoreBench'],
  ['storage', './storage-bench.js', 'runStorageBench'],
  ['queues', './queues-bench.js', 'runQueuesBench'],
  ['runs', './paged-runs-bench.js', 'runPagedRunsBench'],
  ['sessions', './sessions-bench.js', 'runSessionsBench'],
  ['mqtt', './mqtt-bench.js', 'runMqttBench'],
  ['kafka', './kafka-bench.js', 'runKafkaBench'],
  ['stomp', './stomp-bench.js', 'runStompBench'],
  ['amqp', './amqp-bench.js', 'runAmqpBench'],
  ['xmpp', './xmpp-bench.js', 'runXmppBench'],
  ['cluster', './cluster-bench.js', 'runClusterBench'],
];

const wanted = process.argv.slice(2);
for (const [name, file, fn] of suites) {
  if (wanted.length > 0 && !wanted.includes(name)) continue;
  console.log(`\n=== ${name} ===`);
  let mod: Record<string, unknown>;
  try {
    mod = await import(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND' && String((err as Error).message).includes(file.slice(2))) {
      console.log(`(no ${name} benchmark in this build)`);
      continue;
    }
    throw err;
  }
  try {
    await (mod[fn] as () => Promise<unknown>)();
  } catch (err) {
    console.log(`${name} benchmark failed: ${(err as Error).stack ?? err}`);
    process.exitCode = 1;
  }
}
