/**
 * MQTT test helpers: a broker with only the MQTT adapter (in memory, ephemeral ports, optionally a
 * shared MemoryStore for restarts), npm `mqtt` clients, a message inbox, a raw TCP client for
 * malformed input, and a recording logger.
 */
import { connect as netConnect, type Socket } from 'node:net';
import mqtt, { type IClientOptions, type IConnackPacket, type IClientPublishOptions, type IPublishPacket, type MqttClient } from 'mqtt';
import mqttPacket from 'mqtt-packet';
import { MemoryStore } from '../../core/storage/memory-store.js';
import { MqttAdapter } from '../../adapters/mqtt/index.js';
import { recordingLogger, startBroker, TEST_HOST, type LogRecord, type RunningBroker, type StartOptions } from '../support/index.js';

export { recordingLogger, type LogRecord };

export interface MqttTestBroker {
  b: RunningBroker;
  port: number;
  url: string;
  wsUrl: string;
  store: MemoryStore | undefined;
  logs: LogRecord[];
  adapter(): MqttAdapter;
  close(): Promise<void>;
  /** Closes and starts again on the same store (a broker restart). */
  restart(): Promise<MqttTestBroker>;
}

export async function startMqtt(options: StartOptions & { store?: MemoryStore } = {}): Promise<MqttTestBroker> {
  // With a dataDir the platform's FileStore is used; otherwise a MemoryStore kept across restarts.
  const store = options.dataDir === undefined ? (options.store ?? new MemoryStore()) : undefined;
  const logs: LogRecord[] = [];
  const adapter = new MqttAdapter();
  const b = await startBroker({ protocols: [], extraAdapters: [adapter], logger: recordingLogger(logs), ...options, store });
  const port = b.ports.mqtt!;
  const me: MqttTestBroker = {
    b,
    port,
    url: `mqtt://${TEST_HOST}:${port}`,
    wsUrl: `ws://${TEST_HOST}:${b.ports.http}/mqtt`,
    store,
    logs,
    adapter: () => adapter,
    close: () => b.close(),
    restart: async () => {
      await b.close();
      return startMqtt({ ...options, store });
    },
  };
  return me;
}

const clients = new Set<MqttClient>();

/** MQTT 3.1 clients say protocol name MQIsdp. */
function v3(opts: IClientOptions): IClientOptions {
  return opts.protocolVersion === 3 ? { protocolId: 'MQIsdp' } : {};
}

/** Connects an npm `mqtt` client (no automatic reconnect). */
export async function connect(url: string, opts: IClientOptions = {}): Promise<MqttClient> {
  const c = await mqtt.connectAsync(url, { reconnectPeriod: 0, connectTimeout: 10_000, protocolVersion: 4, ...v3(opts), ...opts });
  clients.add(c);
  c.on('error', () => { /* asserted where it matters */ });
  return c;
}

/** Connects with an inbox attached before CONNACK (a resumed session's messages follow CONNACK at once). */
export async function connectInbox(url: string, opts: IClientOptions = {}): Promise<{ client: MqttClient; inbox: Inbox; connack: IConnackPacket }> {
  const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 10_000, protocolVersion: 4, ...v3(opts), ...opts });
  clients.add(client);
  const inbox = new Inbox(client);
  const connack = await new Promise<IConnackPacket>((resolve, reject) => {
    client.once('connect', resolve);
    client.once('error', reject);
  });
  client.on('error', () => { /* asserted where it matters */ });
  return { client, inbox, connack };
}

/** Connects, expecting a refusal; resolves with the error (code = CONNACK return / reason code). */
export async function connectRefused(url: string, opts: IClientOptions = {}): Promise<Error & { code?: number }> {
  const c = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 10_000, protocolVersion: 4, ...v3(opts), ...opts });
  clients.add(c);
  return new Promise((resolve, reject) => {
    c.once('connect', () => reject(new Error('connected, expected a refusal')));
    c.once('error', (err) => resolve(err as Error & { code?: number }));
    c.once('close', () => resolve(Object.assign(new Error('closed'), { code: -1 })));
  });
}

/** Ends every client the helpers created (afterEach). */
export async function endAll(): Promise<void> {
  const all = [...clients];
  clients.clear();
  await Promise.all(all.map((c) => c.endAsync(true).catch(() => undefined)));
}

export interface Received {
  topic: string;
  payload: Buffer;
  packet: IPublishPacket;
}

/** Collects a client's messages; next() waits for the next one. */
export class Inbox {
  readonly messages: Received[] = [];
  private waiters: Array<() => void> = [];
  constructor(client: MqttClient) {
    client.on('message', (topic, payload, packet) => {
      this.messages.push({ topic, payload, packet });
      for (const w of this.waiters.splice(0)) w();
    });
  }

  private pos = 0;

  async next(timeoutMs = 5000): Promise<Received> {
    const i = this.pos;
    await this.waitCount(i + 1, timeoutMs);
    this.pos = i + 1;
    return this.messages[i];
  }

  async waitCount(n: number, timeoutMs = 5000): Promise<Received[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.messages.length < n) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`expected ${n} messages, got ${this.messages.length}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => { clearTimeout(t); resolve(); });
      });
    }
    if (this.pos < n) this.pos = n;
    return this.messages;
  }

  /** Resolves true if no further message arrives within `ms` (used to show something is NOT delivered). */
  async quiet(ms = 300): Promise<boolean> {
    const before = this.messages.length;
    await sleep(ms);
    return this.messages.length === before;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export function publish(c: MqttClient, topic: string, payload: string | Buffer, opts: IClientPublishOptions = {}): Promise<unknown> {
  return c.publishAsync(topic, payload, opts);
}

// ---- raw TCP ---------------------------------------------------------------------------------

export interface RawClient {
  socket: Socket;
  /** Packets received so far (parsed with mqtt-packet for `version`). */
  packets: mqttPacket.Packet[];
  closed: Promise<void>;
  isClosed(): boolean;
  write(bytes: Buffer | number[]): void;
  send(packet: mqttPacket.Packet): void;
  nextPacket(timeoutMs?: number): Promise<mqttPacket.Packet>;
  close(): void;
}

export function raw(port: number, version = 4): Promise<RawClient> {
  return new Promise((resolve, reject) => {
    const socket = netConnect(port, TEST_HOST);
    const parser = mqttPacket.parser({ protocolVersion: version });
    const packets: mqttPacket.Packet[] = [];
    let closed = false;
    let pos = 0;
    let wake: (() => void) | null = null;
    parser.on('packet', (p) => { packets.push(p); wake?.(); });
    parser.on('error', () => { /* ignore */ });
    socket.on('data', (d) => parser.parse(d));
    socket.on('error', () => { /* reset */ });
    const closedP = new Promise<void>((r) => socket.on('close', () => { closed = true; wake?.(); r(); }));
    socket.once('connect', () => resolve({
      socket,
      packets,
      closed: closedP,
      isClosed: () => closed,
      write: (bytes) => { if (!closed) socket.write(Buffer.from(bytes)); },
      send: (p) => { if (!closed) socket.write(mqttPacket.generate(p, { protocolVersion: version })); },
      nextPacket: async (timeoutMs = 5000) => {
        const deadline = Date.now() + timeoutMs;
        while (packets.length <= pos) {
          if (closed) throw new Error('connection closed');
          const left = deadline - Date.now();
          if (left <= 0) throw new Error('no packet');
          await new Promise<void>((r) => { const t = setTimeout(r, left); wake = () => { clearTimeout(t); wake = null; r(); }; });
        }
        return packets[pos++];
      },
      close: () => socket.destroy(),
    }));
    socket.once('error', reject);
  });
}

/** A raw client that has completed CONNECT/CONNACK. */
export async function rawConnected(port: number, version = 4, connect: Partial<mqttPacket.IConnectPacket> = {}): Promise<RawClient> {
  const r = await raw(port, version);
  r.send({ cmd: 'connect', protocolId: version === 3 ? 'MQIsdp' : 'MQTT', protocolVersion: version as 3 | 4 | 5, clean: true, keepalive: 0, clientId: `raw-${Math.random().toString(36).slice(2)}`, ...connect } as mqttPacket.IConnectPacket);
  const ack = await r.nextPacket();
  if (ack.cmd !== 'connack') throw new Error(`expected connack, got ${ack.cmd}`);
  return r;
}

let n = 0;
export function uid(prefix = 'c'): string {
  return `${prefix}-${process.pid}-${++n}-${Math.random().toString(36).slice(2, 8)}`;
}
