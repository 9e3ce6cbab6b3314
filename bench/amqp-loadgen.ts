/**
 * AMQP 1.0 load generator for bench/amqp-bench.ts: rhea clients in a child process, the same for
 * every broker. One JSON argument:
 *
 *   {"role":"producer","port":5672,"address":"/queue/q","count":10000,"size":100,"presettled":false,"durable":true}
 *   {"role":"consumer","port":5672,"address":"/queue/q","credit":500,"presettled":false}
 *
 * Producers send `count` messages (unsettled: waiting for `accepted`; pre-settled: fire and forget)
 * and print {"done":true}. Consumers print {"ready":true} once attached and {"progress":n} as
 * messages arrive (accepting each one unless pre-settled), until killed.
 */
import rhea from 'rhea';

interface Args {
  role: 'producer' | 'consumer';
  port: number;
  host?: string;
  address: string;
  count?: number;
  size?: number;
  presettled?: boolean;
  durable?: boolean;
  credit?: number;
  user?: string;
  password?: string;
  /** Source/target terminus durable field (RabbitMQ 3's plugin declares durable queues for durable termini). */
  terminusDurable?: number;
}

const args = JSON.parse(process.argv[2]) as Args;
const out = (o: object) => process.stdout.write(`${JSON.stringify(o)}\n`);

const container = rhea.create_container({ id: `loadgen-${process.pid}` });
const conn = container.connect({
  host: args.host ?? '127.0.0.1', port: args.port, reconnect: false,
  ...(args.user ? { username: args.user, password: args.password } : {}),
} as rhea.ConnectionOptions);
conn.on('connection_error', (ctx) => { console.error('connection error', ctx.connection.error); process.exit(2); });
conn.on('disconnected', (ctx) => { console.error('disconnected', ctx.error); process.exit(2); });
conn.on('error', (e) => { console.error('error', e); process.exit(2); });

if (args.role === 'producer') {
  const count = args.count ?? 10000;
  const body = rhea.message.data_section(Buffer.alloc(args.size ?? 100, 0x61));
  const sender = conn.open_sender({
    target: { address: args.address, durable: args.terminusDurable ?? 0 },
    snd_settle_mode: args.presettled ? 1 : 0,
  } as rhea.SenderOptions);
  let sent = 0;
  let settled = 0;
  const finish = () => {
    out({ done: true, sent });
    sender.close();
    conn.close();
    conn.once('connection_close', () => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  };
  const pump = () => {
    while (sent < count && sender.sendable()) {
      sender.send({ body, durable: args.durable ?? false });
      sent++;
    }
    if (args.presettled && sent === count) {
      // Pre-settled: done once rhea has written everything (nothing left in its session buffer).
      const check = () => ((sender.session as unknown as { outgoing: { deliveries: { size: number } } }).outgoing.deliveries.size === 0 ? finish() : setTimeout(check, 5));
      check();
    }
  };
  sender.on('sendable', pump);
  sender.on('accepted', () => {
    if (++settled === count) finish();
    else pump();
  });
  sender.on('rejected', (ctx) => { console.error('rejected', ctx.delivery?.remote_state); process.exit(3); });
  sender.on('released', () => { console.error('released'); process.exit(3); });
} else {
  const receiver = conn.open_receiver({
    source: { address: args.address, durable: args.terminusDurable ?? 0 },
    credit_window: args.credit ?? 500,
    autoaccept: !args.presettled,
    snd_settle_mode: args.presettled ? 1 : 0,
  } as rhea.ReceiverOptions);
  let n = 0;
  let reported = 0;
  receiver.once('receiver_open', () => out({ ready: true }));
  receiver.on('message', (ctx) => {
    // rhea keeps received deliveries in its session window until settled locally, pre-settled ones too.
    if (args.presettled) ctx.delivery!.update(true);
    n++;
    if (n - reported >= 500) {
      out({ progress: n - reported });
      reported = n;
    }
  });
  setInterval(() => {
    if (n > reported) {
      out({ progress: n - reported });
      reported = n;
    }
  }, 50);
}
