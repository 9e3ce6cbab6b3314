/** A broker in a child process for the kill -9 test: prints {"port": n} once listening. */
import { startBroker } from '../../index.js';

const dir = process.argv[2];
const b = await startBroker({ dataDir: dir, host: '127.0.0.1', logger: false, protocols: ['amqp'], ports: { amqp: 'auto', http: 0 }, storage: { fsync: 'interval' } as never });
process.stdout.write(`${JSON.stringify({ port: b.ports.amqp })}\n`);
