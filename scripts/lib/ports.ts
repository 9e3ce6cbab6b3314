/** Port probing on loopback: ephemeral ports for tests, "is it free?" for fixed demo ports. */
import { createServer, type Server } from 'node:net';

function listen(port: number, host: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ port, host, exclusive: true }, () => resolve(server));
  });
}

const close = (server: Server): Promise<void> => new Promise((resolve) => server.close(() => resolve()));

/**
 * `count` distinct ports that were free a moment ago: every probe stays open until all are taken,
 * so one call never returns the same port twice. Another process may still grab one before use.
 */
export async function freePorts(count: number, host = '127.0.0.1'): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < count; i++) servers.push(await listen(0, host));
    return servers.map((s) => (s.address() as { port: number }).port);
  } finally {
    await Promise.all(servers.map(close));
  }
}

/** The ports of `ports` that something already listens on (or that cannot be bound). */
export async function busyPorts(ports: number[], host = '127.0.0.1'): Promise<number[]> {
  const busy: number[] = [];
  for (const port of ports) {
    try {
      await close(await listen(port, host));
    } catch {
      busy.push(port);
    }
  }
  return busy;
}
