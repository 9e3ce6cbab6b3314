/**
 * `npm run cluster -- --nodes 3`: a local demo cluster on 127.0.0.1: three nats-servers with
 * JetStream (client ports 4222-4224, routes 6222-6224) and N Junction nodes as child processes,
 * each told `--cluster <the three NATS URLs> --node-id i`. Node i listens on "1 + the last four
 * digits of the protocol's usual port, plus i - 1" (Kafka 19092, 19093, ...; see docs/cluster.md).
 * Ctrl-C or SIGTERM stops the nodes first, then the NATS servers; a second one kills everything.
 *
 *   node dist/scripts/cluster.js [--nodes N] [--base-dir DIR] [--nats-only] [--port-offset K] [-- junction flags...]
 */
import { mkdirSync } from 'node:fs';
import { isAbsolute, relative, resolve } from 'node:path';
import { JunctionNode, LISTENERS, type JunctionPorts, type Listener } from './lib/junction-node.js';
import { isBanner, prefixed } from './lib/log-lines.js';
import { NatsCluster } from './lib/nats-cluster.js';
import { findNatsServer } from './lib/nats-server.js';
import { busyPorts } from './lib/ports.js';
import { scriptArgs } from './lib/script-args.js';

const HOST = '127.0.0.1';
const NATS_SERVERS = 3;
const NATS_CLIENT_PORT = 4222;
const NATS_ROUTE_PORT = 6222;
/** Node 1's ports; node i adds i - 1. */
const NODE_BASE_PORTS: JunctionPorts = { kafka: 19092, mqtt: 11883, amqp: 15672, stomp: 11613, xmpp: 15222, http: 18080 };
const MAX_NODES = 9;

const USAGE = `usage: npm run cluster -- [--nodes N] [--base-dir DIR] [--nats-only] [--port-offset K] [-- junction start flags...]

  --nodes N          Junction nodes to start, 1-${MAX_NODES} (default 3)
  --base-dir DIR     NATS stores in DIR/nats-1..3, node data in DIR/node-1..N (default ./cluster-data)
  --nats-only        start only the three nats-servers
  --port-offset K    add K to every port, to run beside something on the usual ones (default 0)
  -- FLAGS           passed to every \`junction start\`, e.g. -- --log-level debug
`;

function fail(message: string): never {
  process.stderr.write(`cluster: ${message}\n`);
  process.exit(2);
}

function parse() {
  const { values, positionals } = scriptArgs('cluster', USAGE, {
    nodes: { type: 'string', default: '3' },
    'base-dir': { type: 'string', default: './cluster-data' },
    'nats-only': { type: 'boolean', default: false },
    'port-offset': { type: 'string', default: '0' },
  });
  const nodes = Number(values.nodes);
  if (!Number.isInteger(nodes) || nodes < 1 || nodes > MAX_NODES) fail(`--nodes must be an integer from 1 to ${MAX_NODES} (got ${values.nodes})`);
  const offset = Number(values['port-offset']);
  if (!Number.isInteger(offset) || offset < 0 || NODE_BASE_PORTS.kafka + offset + MAX_NODES > 65535) fail(`--port-offset must be a small non-negative integer (got ${values['port-offset']})`);
  return { nodes, baseDir: resolve(values['base-dir']), natsOnly: values['nats-only'], offset, junctionArgs: positionals };
}

function nodePorts(i: number, offset: number): JunctionPorts {
  return Object.fromEntries(LISTENERS.map((l) => [l, NODE_BASE_PORTS[l] + offset + i - 1])) as JunctionPorts;
}

/** A path under the working directory relative to it, any other absolute. */
function shown(dir: string): string {
  const rel = relative(process.cwd(), dir);
  return rel === '' ? '.' : rel.startsWith('..') || isAbsolute(rel) ? dir : rel;
}

function printTable(nats: NatsCluster, nodes: JunctionNode[]): void {
  const rows: string[][] = [['NATS', 'pid', 'client URL', 'route port', 'store']];
  for (const s of nats.servers) rows.push([s.spec.name, String(s.pid ?? ''), s.url, String(s.spec.clusterPort), shown(s.spec.dir)]);
  const blocks = [table(rows)];
  const summary: string[] = [];
  if (nodes.length) {
    const columns: Listener[] = ['kafka', 'mqtt', 'amqp', 'stomp', 'xmpp', 'http'];
    const nodeRows = [['node', 'id', 'pid', ...columns.map((c) => c.toUpperCase()), 'data']];
    for (const n of nodes) nodeRows.push([n.name, String(n.spec.nodeId), String(n.pid ?? ''), ...columns.map((c) => `${HOST}:${n.ports[c]}`), shown(n.spec.dataDir)]);
    blocks.push(table(nodeRows));
    summary.push(`Kafka bootstrap servers: ${nodes.map((n) => `${HOST}:${n.ports.kafka}`).join(',')}`);
    summary.push(`Admin console:           http://${HOST}:${nodes[0].ports.http}/`);
  }
  summary.push(`NATS servers:            ${nats.urls.join(',')}`);
  summary.push('Ctrl-C stops the Junction nodes, then the NATS servers.');
  blocks.push(summary.join('\n'));
  process.stdout.write(`\n${blocks.join('\n\n')}\n\n`);
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c])).join('  ').trimEnd()).join('\n');
}

async function main(): Promise<void> {
  const opts = parse();
  const binary = findNatsServer();
  if (!binary) fail('nats-server not found: apt-get install nats-server (or set NATS_SERVER_BIN)');

  const natsPorts = Array.from({ length: NATS_SERVERS }, (_, k) => NATS_CLIENT_PORT + opts.offset + k);
  const routePorts = Array.from({ length: NATS_SERVERS }, (_, k) => NATS_ROUTE_PORT + opts.offset + k);
  const nodeCount = opts.natsOnly ? 0 : opts.nodes;
  const allNodePorts = Array.from({ length: nodeCount }, (_, k) => nodePorts(k + 1, opts.offset));
  const busy = await busyPorts([...natsPorts, ...routePorts, ...allNodePorts.flatMap((p) => Object.values(p))], HOST);
  if (busy.length) fail(`port(s) ${busy.join(', ')} already in use on ${HOST}: stop what holds them, or pass --port-offset K`);

  mkdirSync(opts.baseDir, { recursive: true });
  const width = Math.max(6, `node-${nodeCount}`.length);
  const log = (name: string) => (line: string) => {
    if (!isBanner(line)) process.stdout.write(prefixed(name, width, line));
  };
  // Own process groups: Ctrl-C reaches only this script, which then stops the children in order.
  const nats = new NatsCluster({ servers: NATS_SERVERS, host: HOST, ports: natsPorts, clusterPorts: routePorts, baseDir: opts.baseDir }, binary, (i) => ({
    detached: true,
    onLine: log(`nats-${i + 1}`),
  }));
  const nodes = allNodePorts.map(
    (ports, k) =>
      new JunctionNode(
        { name: `node-${k + 1}`, host: HOST, dataDir: resolve(opts.baseDir, `node-${k + 1}`), ports, cluster: nats.urls, nodeId: k + 1, args: opts.junctionArgs },
        { detached: true, onLine: log(`node-${k + 1}`), readyTimeoutMs: 60000 },
      ),
  );

  let stopping = false;
  const stopAll = async (): Promise<void> => {
    await Promise.all(nodes.map((n) => n.stop()));
    await nats.stop();
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      process.stderr.write(`cluster: second ${signal}: killing everything\n`);
      process.exit(1); // the exit hook SIGKILLs every child still running
    }
    stopping = true;
    process.stderr.write(`cluster: ${signal}: stopping the Junction nodes, then the NATS servers\n`);
    stopAll().then(
      () => process.exit(0),
      (err: Error) => {
        process.stderr.write(`cluster: stop failed: ${err.message}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);

  const t0 = Date.now();
  process.stdout.write(`cluster: starting ${NATS_SERVERS} nats-servers (${binary}) in ${shown(opts.baseDir)}\n`);
  try {
    await nats.start(60000);
    process.stdout.write(`cluster: JetStream ready on all ${NATS_SERVERS} servers after ${Date.now() - t0} ms\n`);
    if (nodes.length) {
      process.stdout.write(`cluster: starting ${nodes.length} Junction node(s)\n`);
      await Promise.all(nodes.map((n) => n.start()));
    }
  } catch (err) {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`cluster: start-up failed: ${(err as Error).message}\n`);
    await stopAll();
    process.exit(1);
  }
  if (stopping) return;
  for (const s of [...nats.servers, ...nodes]) {
    void s.exited.then((code) => {
      if (!stopping) process.stderr.write(`cluster: ${s instanceof JunctionNode ? s.name : s.spec.name} exited (${code === null ? 'killed by a signal' : `code ${code}`}); the others keep running\n`);
    });
  }
  printTable(nats, nodes);
}

void main();
