/**
 * The URLs of `junction send` / `junction receive`: scheme (protocol, `s` for TLS), credentials,
 * host, port (each protocol's default when omitted), the destination in the path and options in
 * the query:
 *   mqtt[s]://host[:port]/a/b?qos=1&retain=true     MQTT topic a/b
 *   stomp[s]://host[:port]/queue/jobs | /topic/a.b  STOMP destination
 *   amqp[s]://host[:port]/queue/jobs | /topic/a.b   AMQP 1.0 address
 *   kafka[s]://host[:port]/topic?key=k&partition=0  Kafka topic
 *   xmpp[s]://user:pw@domain[:port]/node            XEP-0060 node on pubsub.<domain>
 */
import { UsageError } from '../errors.js';

export type ProtocolName = 'mqtt' | 'stomp' | 'amqp' | 'kafka' | 'xmpp';

const SCHEMES: Record<string, { protocol: ProtocolName; tls: boolean; port: number }> = {
  mqtt: { protocol: 'mqtt', tls: false, port: 1883 },
  mqtts: { protocol: 'mqtt', tls: true, port: 8883 },
  stomp: { protocol: 'stomp', tls: false, port: 61613 },
  stomps: { protocol: 'stomp', tls: true, port: 61614 },
  'stomp+ssl': { protocol: 'stomp', tls: true, port: 61614 },
  amqp: { protocol: 'amqp', tls: false, port: 5672 },
  amqps: { protocol: 'amqp', tls: true, port: 5671 },
  kafka: { protocol: 'kafka', tls: false, port: 9092 },
  kafkas: { protocol: 'kafka', tls: true, port: 9093 },
  xmpp: { protocol: 'xmpp', tls: false, port: 5222 },
  xmpps: { protocol: 'xmpp', tls: true, port: 5223 },
};

export interface Target {
  url: string;
  protocol: ProtocolName;
  tls: boolean;
  host: string;
  port: number;
  /** The path without its leading '/', percent-decoded. */
  path: string;
  user?: string;
  password?: string;
  params: URLSearchParams;
}

export function parseTarget(raw: string, tool: string): Target {
  let u: URL;
  try {
    // '#' is MQTT's and AMQP's multi-level wildcard here, never a URL fragment.
    u = new URL(raw.replace(/#/g, '%23'));
  } catch {
    throw new UsageError(`junction ${tool}: not a URL: "${raw}" (e.g. mqtt://localhost/sensors/t1)`);
  }
  const scheme = SCHEMES[u.protocol.replace(/:$/, '')];
  if (!scheme) throw new UsageError(`junction ${tool}: unsupported scheme "${u.protocol}" (${Object.keys(SCHEMES).join(', ')})`);
  const path = decodeURIComponent(u.pathname.replace(/^\//, ''));
  if (!path) throw new UsageError(`junction ${tool}: the URL needs a destination path (${raw}/...)`);
  return {
    url: raw,
    protocol: scheme.protocol,
    tls: scheme.tls,
    host: u.hostname.replace(/^\[|\]$/g, '') || 'localhost',
    port: u.port ? Number(u.port) : scheme.port,
    path,
    user: u.username ? decodeURIComponent(u.username) : undefined,
    password: u.password ? decodeURIComponent(u.password) : undefined,
    params: u.searchParams,
  };
}
