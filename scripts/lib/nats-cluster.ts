/**
 * A JetStream cluster of nats-servers on one host, for tests (ephemeral ports, temp dirs) and for
 * the local demo cluster (fixed ports, ./cluster-data). Started means: every server answers a
 * JetStream API request, so the meta group has a leader and every server is routed to it.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { join } from 'node:path';
import { NatsServer, type NatsServerOptions } from './nats-server.js';

export interface NatsClusterLayout {
  servers: number;
  host: string;
  /** Client port of each server. */
  ports: number[];
  /** Route port of each server. */
  clusterPorts: number[];
  /** Server i keeps its configuration and store in `${baseDir}/nats-${i + 1}`. */
  baseDir: string;
  clusterName?: string;
}

/** True when one JetStream API request through `url` (and only it) is answered. */
export async function jetStreamAnswers(url: string): Promise<boolean> {
  let nc;
  try {
    nc = await connect({ servers: url, reconnect: false, timeout: 2000 });
    // jetstreamManager() itself asks for the account info; ask again so a stale answer is not enough.
    const jsm = await jetstreamManager(nc, { timeout: 2000 });
    await jsm.getAccountInfo();
    return true;
  } catch {
    return false;
  } finally {
    await nc?.close().catch(() => undefined);
  }
}

export class NatsCluster {
  readonly servers: NatsServer[];

  constructor(
    readonly layout: NatsClusterLayout,
    binary: string,
    options: (i: number) => NatsServerOptions = () => ({}),
  ) {
    const name = layout.clusterName ?? 'junction';
    this.servers = Array.from(
      { length: layout.servers },
      (_, i) =>
        new NatsServer(
          {
            name: `nats-${i + 1}`,
            host: layout.host,
            port: layout.ports[i],
            clusterPort: layout.clusterPorts[i],
            clusterName: name,
            routePorts: layout.clusterPorts,
            dir: join(layout.baseDir, `nats-${i + 1}`),
          },
          binary,
          options(i),
        ),
    );
  }

  get urls(): string[] {
    return this.servers.map((s) => s.url);
  }

  /** Starts every server and waits until JetStream answers through each of them. */
  async start(timeoutMs = 30000): Promise<void> {
    try {
      await Promise.all(this.servers.map((s) => s.start()));
      await Promise.all(this.servers.map((_, i) => this.waitForJetStream(i, timeoutMs)));
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  kill(i: number, signal: NodeJS.Signals = 'SIGKILL'): Promise<number | null> {
    return this.server(i).kill(signal);
  }

  /** Starts server i again (same configuration and store) and waits until JetStream answers through it. */
  async restart(i: number, timeoutMs = 30000): Promise<void> {
    const server = this.server(i);
    if (server.running) await server.stop();
    await server.start();
    await this.waitForJetStream(i, timeoutMs);
  }

  /** SIGTERM to every server at once; waits until all have exited. */
  async stop(): Promise<void> {
    await Promise.all(this.servers.map((s) => s.stop()));
  }

  async waitForJetStream(i: number, timeoutMs = 30000): Promise<void> {
    const server = this.server(i);
    const deadline = Date.now() + timeoutMs;
    while (!(await jetStreamAnswers(server.url))) {
      if (!server.running) throw new Error(`${server.spec.name} exited while waiting for JetStream:\n${server.output()}`);
      if (Date.now() > deadline) throw new Error(`${server.spec.name}: JetStream not ready after ${timeoutMs} ms:\n${server.output()}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  private server(i: number): NatsServer {
    const s = this.servers[i];
    if (!s) throw new Error(`no nats-server ${i} (the cluster has ${this.servers.length}, numbered from 0)`);
    return s;
  }
}
