/** `cluster:` — run this broker as one node of a cluster on NATS JetStream (docs/cluster.md). */
import type { FromSchema, SameShape } from '../../config/infer.js';

export interface ClusterConfig {
  /** NATS server URLs, as a list or one comma-separated string; empty = no cluster (single node). */
  servers: string[] | string;
  /** This node's id, unique in the cluster (Kafka broker id). */
  nodeId: number;
  /** How often the node announces itself. */
  heartbeatMs: number;
  /** A node unheard of this long is dead: its partitions get new leaders. */
  nodeTimeoutMs: number;
  /**
   * A node that has run this long leads again the partitions it is preferred for (rendezvous
   * hashing), taking them from the nodes that led them while it was away; 0 = never.
   */
  rebalanceDelayMs: number;
}

export const clusterSchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    servers: {
      anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }],
      'x-hint': 'NATS URLs, a list or a comma-separated string (nats://host:port,...)',
      default: [],
    },
    nodeId: { type: 'integer', minimum: 0, maximum: 2147483647, 'x-hint': 'an integer from 0 to 2147483647', default: 0 },
    heartbeatMs: { type: 'integer', minimum: 50, 'x-hint': 'an integer >= 50', default: 1000 },
    nodeTimeoutMs: { type: 'integer', minimum: 200, 'x-hint': 'an integer >= 200', default: 5000 },
    rebalanceDelayMs: { type: 'integer', minimum: 0, 'x-hint': 'an integer >= 0 (0 = never)', default: 30000 },
  },
} as const;

// The interface above is the documented shape; the schema must accept exactly it.
const clusterShape: SameShape<ClusterConfig, FromSchema<typeof clusterSchema>> = true;
void clusterShape;

/** The server list as URLs (empty when the cluster is off). */
export function clusterServers(config: ClusterConfig): string[] {
  const list = Array.isArray(config.servers) ? config.servers : config.servers.split(',');
  return list.map((s) => s.trim()).filter((s) => s.length > 0);
}
