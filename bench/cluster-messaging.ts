/**
 * MQTT and STOMP workloads of bench/cluster-bench.ts, clients in this process, publisher and
 * subscriber on two given nodes: MQTT QoS 1 1->1 throughput, MQTT QoS 1 latency at a fixed rate,
 * STOMP persistent queue 1->1 with receipts and client-individual acks. Every message carries its
 * sequence number, so a message acknowledged to the sender and never delivered is counted as lost.
 */
import mqtt, { type MqttClient } from 'mqtt';
import { connect, type Socket } from 'node:net';
import { StompParser } from '../adapters/stomp/parser.js';
import type { StompFrame } from '../adapters/stomp/frame.js';

const HOST = '127.0.0.1';
const SIZE = 100;
const MAX_MESSAGES = 1 << 24;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface FlowRun {
  /** Distinct messages delivered in the timed window, per second. */
  rate: number;
  delivered: number;
  sent: number;
  /** Acknowledged to the sender (PUBACK / RECEIPT). */
  acked: number;
  /** Acknowledged to the sender but not delivered within the drain time after the window. */
  lost: number;
  duplicates: number;
  error?: string;
}

/** Tracks delivered sequence numbers: first deliveries and duplicates. */
class Deliveries {
  private readonly seen = new Uint8Array(MAX_MESSAGES);
  distinct = 0;
  duplicates = 0;
  add(seq: number): void {
    if (this.seen[seq]) this.duplicates++;
    else {
      this.seen[seq] = 1;
      this.distinct++;
    }
  }
  has(seq: number): boolean {
    return this.seen[seq] === 1;
  }
}

async function mqttClient(port: number, id: string): Promise<MqttClient> {
  const c = await mqtt.connectAsync(`mqtt://${HOST}:${port}`, { clientId: id, protocolVersion: 4, clean: true, keepalive: 60, reconnectPeriod: 0, connectTimeout: 30_000 });
  (c.stream as unknown as { setNoDelay?: (v: boolean) => void }).setNoDelay?.(true);
  return c;
}

/** QoS 1 1->1; the publisher keeps at most `window` messages ahead of the subscriber. */
export async function mqttThroughput(pubPort: number, subPort: number, seconds: number, window = 500): Promise<FlowRun> {
  const topic = `bench/cluster/${process.pid}/${Date.now()}`;
  const got = new Deliveries();
  const ackedSeqs: number[] = [];
  const sub = await mqttClient(subPort, `bench-sub-${process.pid}`);
  const pub = await mqttClient(pubPort, `bench-pub-${process.pid}`);
  let sent = 0;
  let running = true;
  let scheduled = false;
  const payload = (seq: number): Buffer => {
    const b = Buffer.alloc(SIZE, 0x61);
    b.writeUInt32BE(seq, 0);
    return b;
  };
  const pump = (): void => {
    scheduled = false;
    while (running && sent - got.distinct < window && sent < MAX_MESSAGES) {
      const seq = sent++;
      pub.publish(topic, payload(seq), { qos: 1 }, (err) => { if (!err) ackedSeqs.push(seq); });
    }
  };
  sub.on('message', (_t, p) => {
    got.add(p.readUInt32BE(0));
    if (!scheduled) {
      scheduled = true;
      setImmediate(pump);
    }
  });
  try {
    await sub.subscribeAsync(topic, { qos: 1 });
    await sleep(500);
    pump();
    await sleep(500);
    const rate = await deliveryRate(() => got.distinct, seconds);
    running = false;
    await drain(() => ackedSeqs.every((s) => got.has(s)) && ackedSeqs.length === sent);
    return { rate, delivered: got.distinct, sent, acked: ackedSeqs.length, lost: ackedSeqs.filter((s) => !got.has(s)).length, duplicates: got.duplicates };
  } finally {
    await Promise.all([pub, sub].map((c) => c.endAsync(true).catch(() => undefined)));
  }
}

/** Distinct deliveries per second over a timed phase of `seconds`. */
async function deliveryRate(delivered: () => number, seconds: number): Promise<number> {
  const d0 = delivered();
  const t0 = performance.now();
  await sleep(seconds * 1000);
  return (delivered() - d0) / ((performance.now() - t0) / 1000);
}

async function drain(done: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!done() && Date.now() < end) await sleep(50);
}

export interface LatencyRun { p50: number; p99: number; max: number; samples: number; expected: number; sent: number }

/** QoS 1 at `rate` messages/s; latency from publish to delivery (one clock: both clients are here). */
export async function mqttLatency(pubPort: number, subPort: number, seconds: number, rate = 500): Promise<LatencyRun> {
  const topic = `bench/lat/${process.pid}/${Date.now()}`;
  const samples: number[] = [];
  const warmup = 1;
  const got = new Deliveries();
  const sub = await mqttClient(subPort, `bench-lsub-${process.pid}`);
  const pub = await mqttClient(pubPort, `bench-lpub-${process.pid}`);
  sub.on('message', (_t, p) => {
    const seq = p.readUInt32BE(8);
    if (seq < warmup * rate || got.has(seq)) return;
    got.add(seq);
    samples.push(Number(process.hrtime.bigint() - p.readBigUInt64BE(0)) / 1e6);
  });
  try {
    await sub.subscribeAsync(topic, { qos: 1 });
    await sleep(500);
    const start = performance.now();
    let sent = 0;
    const total = (warmup + seconds) * rate;
    while (sent < total) {
      // Catch up to the schedule: messages due by now go out, then sleep to the next tick.
      const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * rate));
      while (sent < due) {
        const b = Buffer.alloc(SIZE, 0x61);
        b.writeUInt32BE(sent, 8);
        b.writeBigUInt64BE(process.hrtime.bigint(), 0);
        pub.publish(topic, b, { qos: 1 });
        sent++;
      }
      await sleep(2);
    }
    await drain(() => samples.length >= seconds * rate, 5000);
    samples.sort((a, b) => a - b);
    const at = (q: number): number => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))] ?? NaN;
    return { p50: at(0.5), p99: at(0.99), max: samples[samples.length - 1] ?? NaN, samples: samples.length, expected: seconds * rate, sent: total };
  } finally {
    await Promise.all([pub, sub].map((c) => c.endAsync(true).catch(() => undefined)));
  }
}

/** A raw TCP STOMP 1.2 connection; ERROR frames end it with a rejection of `errors`. */
function stompConnect(port: number, onFrame: (f: StompFrame) => void, onError: (message: string) => void): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: HOST, port });
    socket.setNoDelay(true);
    const parser = new StompParser({ maxFrameSize: 1 << 24, maxHeaders: 1000, maxHeaderLength: 1 << 16 }, (f) => {
      if (f.command === 'CONNECTED') {
        parser.version = '1.2';
        resolve(socket);
      } else if (f.command === 'ERROR') onError(`${f.headers.message ?? 'ERROR'} ${f.body.toString().slice(0, 200)}`.trim());
      else onFrame(f);
    });
    socket.on('data', (d) => parser.push(d));
    socket.on('error', (err) => { reject(err); onError(err.message); });
    socket.write('CONNECT\naccept-version:1.2\nhost:/\nheart-beat:0,0\n\n\0');
  });
}

/**
 * Persistent queue 1->1: the receiver (client-individual acks, prefetch 200) subscribes first on
 * its node, then the sender sends with a receipt on each message, at most `window` unanswered.
 */
export async function stompQueue(sendPort: number, recvPort: number, queue: string, seconds: number, window = 200): Promise<FlowRun> {
  const got = new Deliveries();
  const acked: number[] = [];
  let error: string | undefined;
  const fail = (m: string): void => { error ??= m; };
  let subscribed!: () => void;
  const ready = new Promise<void>((r) => { subscribed = r; });
  let ackBuffer = '';
  let flushScheduled = false;
  const receiver: Socket = await stompConnect(recvPort, (f) => {
    if (f.command === 'RECEIPT') return subscribed();
    if (f.command !== 'MESSAGE') return;
    got.add(f.body.readUInt32BE(0));
    ackBuffer += `ACK\nid:${f.headers.ack}\n\n\0`;
    if (!flushScheduled) {
      flushScheduled = true;
      setImmediate(() => {
        flushScheduled = false;
        receiver.write(ackBuffer);
        ackBuffer = '';
      });
    }
  }, fail);
  receiver.write(`SUBSCRIBE\nid:0\ndestination:${queue}\nack:client-individual\nprefetch-count:200\nreceipt:sub\n\n\0`);
  await ready;
  await sleep(1000); // the queue's definition reaches the other nodes
  let sent = 0;
  let running = true;
  const head = `SEND\ndestination:${queue}\npersistent:true\ncontent-length:${SIZE}\nreceipt:`;
  let sender!: Socket;
  const pump = (): void => {
    const chunks: Buffer[] = [];
    while (running && sent - acked.length < window && sent < MAX_MESSAGES) {
      const body = Buffer.alloc(SIZE, 0x61);
      body.writeUInt32BE(sent, 0);
      chunks.push(Buffer.from(`${head}${sent}\n\n`), body, Buffer.from([0]));
      sent++;
    }
    if (chunks.length) sender.write(Buffer.concat(chunks));
  };
  sender = await stompConnect(sendPort, (f) => {
    if (f.command !== 'RECEIPT') return;
    acked.push(Number(f.headers['receipt-id']));
    if (sent - acked.length <= window / 2) pump();
  }, fail);
  try {
    pump();
    await sleep(500);
    const rate = await deliveryRate(() => got.distinct, seconds);
    running = false;
    await drain(() => error !== undefined || (acked.length === sent && acked.every((s) => got.has(s))));
    return { rate, delivered: got.distinct, sent, acked: acked.length, lost: acked.filter((s) => !got.has(s)).length, duplicates: got.duplicates, error };
  } finally {
    for (const s of [sender, receiver]) s.end('DISCONNECT\n\n\0');
  }
}
