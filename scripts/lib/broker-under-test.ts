/**
 * What a fault trial runs against: something that starts, can be crashed (kill -9 of a broker
 * process) and recovered, and names its endpoints per protocol at any moment. SingleNodeBroker is
 * one `junction start` child on fixed free ports and one data directory; a cluster mode can
 * implement the same interface by killing one node of several.
 */
import type { Endpoints, Protocol } from './load/acked-load.js';
import { JunctionNode, LISTENERS, type JunctionPorts } from './junction-node.js';
import { freePorts } from './ports.js';

export interface BrokerUnderTest {
  readonly endpoints: Endpoints;
  start(): Promise<void>;
  /** kill -9 (of one process); resolves with what was killed, once it is gone. */
  crash(): Promise<string>;
  /** Brings back what crash() killed, on the same data; resolves when it is ready again. */
  recover(): Promise<void>;
  /** Graceful stop of everything. */
  stop(): Promise<void>;
  /** Recent output, for failure messages. */
  output(): string;
  /** Process ids to sample for the soak (the broker processes). */
  pids(): number[];
  /** HTTP base URLs (for /metrics), one per process. */
  httpUrls(): string[];
}

export interface SingleNodeOptions {
  dataDir: string;
  host?: string;
  /** Further `junction start` flags. */
  args?: string[];
  env?: Record<string, string>;
  logLevel?: string;
  onLine?: (line: string) => void;
}

const PROTOCOLS: Protocol[] = ['mqtt', 'amqp', 'stomp', 'xmpp', 'kafka'];

export class SingleNodeBroker implements BrokerUnderTest {
  private node?: JunctionNode;

  constructor(private readonly o: SingleNodeOptions) {}

  get ports(): JunctionPorts {
    if (!this.node) throw new Error('not started');
    return this.node.ports;
  }

  readonly endpoints: Endpoints = () => {
    const host = this.o.host ?? '127.0.0.1';
    const ports = this.ports;
    return Object.fromEntries(PROTOCOLS.map((p) => [p, [{ host, port: ports[p] }]])) as ReturnType<Endpoints>;
  };

  async start(): Promise<void> {
    const host = this.o.host ?? '127.0.0.1';
    const free = await freePorts(LISTENERS.length, host);
    const ports = Object.fromEntries(LISTENERS.map((l, i) => [l, free[i]])) as JunctionPorts;
    this.node = new JunctionNode(
      { name: 'junction', host, dataDir: this.o.dataDir, ports, args: this.o.args, env: this.o.env, logLevel: this.o.logLevel ?? 'warn' },
      { onLine: this.o.onLine, readyTimeoutMs: 60000 },
    );
    await this.node.start();
  }

  async crash(): Promise<string> {
    const pid = this.node?.pid;
    await this.node?.kill('SIGKILL');
    return `kill -9 ${pid}`;
  }

  async recover(): Promise<void> {
    await this.node!.start();
  }

  async stop(): Promise<void> {
    await this.node?.stop();
  }

  get running(): boolean {
    return this.node?.running ?? false;
  }

  output(): string {
    return this.node?.output() ?? '';
  }

  pids(): number[] {
    return this.node?.pid ? [this.node.pid] : [];
  }

  httpUrls(): string[] {
    return [`http://${this.o.host ?? '127.0.0.1'}:${this.ports.http}`];
  }
}
