// node-rdkafka (librdkafka 2.12) run in its own process: some of its calls block the event loop,
// which would starve a broker running in the test's process. Prints one JSON line.
const Kafka = require('node-rdkafka');

const [bootstrap, topic, group, count] = [process.argv[2], process.argv[3], process.argv[4], Number(process.argv[5])];
const versions = {};
const logger = (log) => { const m = /Sent (\w+)Request \(v(\d+)/.exec(log.message); if (m) versions[m[1]] = Number(m[2]); };
const done = (out) => { process.stdout.write(JSON.stringify({ ...out, versions }) + '\n'); process.exit(0); };
setTimeout(() => { process.stdout.write(JSON.stringify({ error: 'timeout', versions }) + '\n'); process.exit(1); }, 45000);

const admin = Kafka.AdminClient.create({ 'metadata.broker.list': bootstrap });
admin.createTopic({ topic, num_partitions: 2, replication_factor: 1 }, (err) => {
  admin.disconnect();
  if (err) return done({ error: `createTopic: ${err.message}` });
  const producer = new Kafka.Producer({ 'metadata.broker.list': bootstrap, dr_cb: true, 'enable.idempotence': true, 'compression.codec': 'lz4', debug: 'protocol' });
  producer.on('event.log', logger);
  const errors = [];
  let delivered = 0;
  producer.on('delivery-report', (err) => { if (err) errors.push(String(err)); delivered++; if (delivered === count) producer.disconnect(); });
  producer.on('ready', () => {
    producer.setPollInterval(20);
    for (let i = 0; i < count; i++) producer.produce(topic, null, Buffer.from(`value-${i} ${'z'.repeat(100)}`), `key-${i}`, Date.now(), null, [{ n: String(i) }]);
  });
  producer.on('disconnected', () => {
    const consumer = new Kafka.KafkaConsumer({ 'group.id': group, 'metadata.broker.list': bootstrap, 'enable.auto.commit': false, debug: 'protocol' }, { 'auto.offset.reset': 'earliest' });
    consumer.on('event.log', logger);
    const got = [];
    consumer.on('ready', () => { consumer.subscribe([topic]); consumer.consume(); });
    consumer.on('data', (m) => {
      got.push([m.partition, m.offset, m.key.toString(), m.value.toString().split(' ')[0], m.headers ? m.headers[0].n.toString() : null]);
      if (got.length === count) { consumer.commitSync(null); consumer.disconnect(); }
    });
    consumer.on('disconnected', () => done({ errors, records: got }));
    consumer.connect();
  });
  producer.connect();
});
