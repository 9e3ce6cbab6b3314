/**
 * Many MQTT 3.1.1 connections at little cost to this process: raw sockets with mqtt-packet, one
 * parser each, clean sessions. One in `subscriberEvery` subscribes (QoS 1) to its own topic;
 * publish() sends QoS 1 messages from random members to random subscribers' topics. PINGREQs go
 * out in slices from one timer, so the keep-alive costs no timer per connection.
 */
import { connect, type Socket } from 'node:net';
import mqttPacket from 'mqtt-packet';
import type { Endpoint } from '../load/acked-load.js';

export interface FleetOptions {
  count: number;
  /** New connections per second while ramping up. */
  rampPerSecond: number;
  keepaliveS: number;
  subscriberEvery: number;
  prefix: string;
}

interface Member {
  index: number;
  socket: Socket;
  connected: boolean;
  subscribed: boolean;
  nextPacketId: number;
}

export class MqttFleet {
  readonly members: Member[] = [];
  connected = 0;
  failures = 0;
  closedByBroker = 0;
  published = 0;
  acked = 0;
  received = 0;
  private pinger?: NodeJS.Timeout;
  private closing = false;

  constructor(private readonly at: Endpoint, private readonly o: FleetOptions) {}

  /** Opens every connection at the ramp rate; resolves when all are answered (or failed). */
  async connectAll(onProgress?: (done: number) => void): Promise<void> {
    const batch = Math.max(1, Math.round(this.o.rampPerSecond / 10));
    const pending: Promise<void>[] = [];
    for (let i = 0; i < this.o.count; i += batch) {
      for (let k = i; k < Math.min(this.o.count, i + batch); k++) pending.push(this.open(k));
      onProgress?.(Math.min(this.o.count, i + batch));
      await new Promise((r) => setTimeout(r, 100));
    }
    await Promise.all(pending);
    // Each member pings once per keep-alive/2, spread over 10 slices of that period.
    let slice = 0;
    this.pinger = setInterval(() => {
      const ping = mqttPacket.generate({ cmd: 'pingreq' });
      for (let i = slice; i < this.members.length; i += 10) if (this.members[i]?.connected) this.members[i].socket.write(ping);
      slice = (slice + 1) % 10;
    }, (this.o.keepaliveS * 1000) / 2 / 10);
  }

  private topic(index: number): string {
    return `soak/${this.o.prefix}/dev/${index}`;
  }

  private open(index: number): Promise<void> {
    return new Promise((resolve) => {
      const socket = connect({ host: this.at.host, port: this.at.port });
      const m: Member = { index, socket, connected: false, subscribed: false, nextPacketId: 1 };
      this.members[index] = m;
      const parser = mqttPacket.parser({ protocolVersion: 4 });
      let settled = false;
      const settle = () => {
        if (!settled) {
          settled = true;
          resolve();
        }
      };
      parser.on('packet', (p) => {
        switch (p.cmd) {
          case 'connack':
            if (p.returnCode === 0) {
              m.connected = true;
              this.connected++;
              if (index % this.o.subscriberEvery === 0) {
                socket.write(mqttPacket.generate({ cmd: 'subscribe', messageId: m.nextPacketId++, subscriptions: [{ topic: this.topic(index), qos: 1 }] }));
              } else settle();
            } else {
              this.failures++;
              socket.destroy();
              settle();
            }
            break;
          case 'suback':
            m.subscribed = true;
            settle();
            break;
          case 'puback':
            this.acked++;
            break;
          case 'publish':
            this.received++;
            if (p.qos === 1) socket.write(mqttPacket.generate({ cmd: 'puback', messageId: p.messageId! }));
            break;
        }
      });
      socket.on('data', (d) => parser.parse(d));
      socket.on('error', () => undefined);
      socket.on('close', () => {
        if (m.connected) {
          this.connected--;
          if (!this.closing) this.closedByBroker++;
        } else this.failures++;
        m.connected = false;
        settle();
      });
      socket.on('connect', () => {
        socket.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: `${this.o.prefix}-${index}`, keepalive: this.o.keepaliveS }));
      });
    });
  }

  /** `n` QoS 1 publishes from random connected members to random subscribers' topics. */
  publish(n: number): void {
    const subscribers = Math.ceil(this.o.count / this.o.subscriberEvery);
    for (let i = 0; i < n; i++) {
      const m = this.members[Math.floor(Math.random() * this.members.length)];
      if (!m?.connected) continue;
      const target = Math.floor(Math.random() * subscribers) * this.o.subscriberEvery;
      const messageId = m.nextPacketId;
      m.nextPacketId = (m.nextPacketId % 65535) + 1;
      m.socket.write(mqttPacket.generate({ cmd: 'publish', topic: this.topic(target), payload: Buffer.from(`m${this.published}`), qos: 1, messageId, retain: false, dup: false }));
      this.published++;
    }
  }

  close(): void {
    this.closing = true;
    clearInterval(this.pinger);
    for (const m of this.members) m?.socket.destroy();
  }
}
