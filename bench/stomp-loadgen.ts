/**
 * STOMP load generator (a child process of bench/stomp-bench.ts): raw TCP STOMP 1.2, the same
 * code against every broker. One JSON argument:
 *   { role: 'producer' | 'consumer', port, dest, count, size, persistent, window, ack, prefetch, conns, headers? }
 * A producer sends `count` messages with a receipt on each, at most `window` unanswered, then
 * prints {"done":true,...}. A consumer opens `conns` subscriptions (one socket each), prints
 * {"ready":true} once subscribed, ACKs each message (client-individual) and prints {"done":true}
 * when every socket has received `count` messages. `headers` go on every SEND and SUBSCRIBE (e.g.
 * RabbitMQ's `x-queue-type:quorum`, which declares the queue the same way from both sides).
 */
import { connect, type Socket } from 'node:net';
import { StompParser } from '../adapters/stomp/parser.js';
import type { StompFrame } from '../adapters/stomp/frame.js';

interface Args {
  role: 'producer' | 'consumer';
  port: number;
  dest: string;
  count: number;
  size: number;
  persistent: boolean;
  window: number;
  ack: 'auto' | 'client-individual';
  prefetch: number;
  conns: number;
  headers?: Record<string, string>;
}

const args = JSON.parse(process.argv[2]) as Args;
const extra = Object.entries(args.headers ?? {}).map(([k, v]) => `${k}:${v}\n`).join('');

function print(o: object): void {
  process.stdout.write(JSON.stringify(o) + '\n');
}

function open(onFrame: (f: StompFrame, s: Socket) => void): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port: args.port });
    socket.setNoDelay(true);
    const parser = new StompParser({ maxFrameSize: 1 << 24, maxHeaders: 1000, maxHeaderLength: 1 << 16 }, (f) => {
      if (f.command === 'CONNECTED') {
        parser.version = '1.2';
        resolve(socket);
        return;
      }
      if (f.command === 'ERROR') {
        process.stderr.write(`ERROR ${f.headers.message} ${f.body.toString()}\n`);
        process.exit(2);
      }
      onFrame(f, socket);
    });
    socket.on('data', (d) => parser.push(d));
    socket.on('error', reject);
    socket.write('CONNECT\naccept-version:1.2\nhost:/\nlogin:guest\npasscode:guest\nheart-beat:0,0\n\n\0');
  });
}

async function producer(): Promise<void> {
  const body = Buffer.alloc(args.size, 0x61);
  let sent = 0;
  let confirmed = 0;
  let socket!: Socket;
  const start = Date.now();
  const head = `SEND\ndestination:${args.dest}\n${extra}${args.persistent ? 'persistent:true\n' : ''}content-length:${args.size}\nreceipt:`;
  const pump = () => {
    const chunks: Buffer[] = [];
    while (sent < args.count && sent - confirmed < args.window) {
      chunks.push(Buffer.from(`${head}${sent}\n\n`), body, Buffer.from([0]));
      sent++;
    }
    if (chunks.length) socket.write(Buffer.concat(chunks));
  };
  socket = await open((f) => {
    if (f.command !== 'RECEIPT') return;
    confirmed++;
    if (confirmed === args.count) {
      print({ done: true, sent, ms: Date.now() - start });
      socket.end('DISCONNECT\n\n\0');
      return;
    }
    if (sent - confirmed <= args.window / 2) pump();
  });
  pump();
}

/** count 0: report progress (messages received since the last report) instead of stopping on a count. */
async function consumer(): Promise<void> {
  let doneSockets = 0;
  let subscribed = 0;
  let progress = 0;
  let reportScheduled = false;
  const sockets: Socket[] = [];
  const report = () => {
    reportScheduled = false;
    if (args.count === 0 && progress > 0) print({ progress });
    progress = 0;
  };
  for (let i = 0; i < args.conns; i++) {
    let received = 0;
    let acks = '';
    let flushScheduled = false;
    const s = await open((f, sock) => {
      if (f.command === 'RECEIPT') {
        if (++subscribed === args.conns) print({ ready: true });
        return;
      }
      if (f.command !== 'MESSAGE') return;
      received++;
      progress++;
      if (!reportScheduled) {
        reportScheduled = true;
        setImmediate(report);
      }
      if (args.ack !== 'auto') {
        acks += `ACK\nid:${f.headers.ack}\n\n\0`;
        if (!flushScheduled) {
          flushScheduled = true;
          setImmediate(() => {
            flushScheduled = false;
            sock.write(acks);
            acks = '';
          });
        }
      }
      if (args.count > 0 && received === args.count && ++doneSockets === args.conns) {
        print({ done: true });
        for (const x of sockets) x.end('DISCONNECT\n\n\0');
      }
    });
    sockets.push(s);
    const prefetch = args.ack === 'auto' ? '' : `prefetch-count:${args.prefetch}\n`;
    s.write(`SUBSCRIBE\nid:${i}\ndestination:${args.dest}\n${extra}ack:${args.ack}\n${prefetch}receipt:sub-${i}\n\n\0`);
  }
}

await (args.role === 'producer' ? producer() : consumer());
