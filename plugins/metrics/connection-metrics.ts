/**
 * Per-protocol connection families: connections open and opened, messages and bytes in and out,
 * refused logins and protocol errors. Every adapter's protocol appears (with zeros before its
 * first client), so a dashboard sees the series from the start.
 */
import type { AuthPlugin } from '../../core/adapter.js';
import type { ConnectionRegistry, ProtocolTotals } from '../../core/connection-registry.js';
import type { ExpositionWriter, Sample } from './prometheus-format.js';

const FAMILIES: Array<[keyof ProtocolTotals, string, 'counter' | 'gauge', string]> = [
  ['open', 'junction_connections', 'gauge', 'Client connections open now, per protocol.'],
  ['total', 'junction_connections_opened_total', 'counter', 'Client connections accepted since start, per protocol.'],
  ['messagesIn', 'junction_messages_received_total', 'counter', 'Messages received from clients, per protocol.'],
  ['messagesOut', 'junction_messages_sent_total', 'counter', 'Messages delivered to clients, per protocol.'],
  ['bytesIn', 'junction_received_bytes_total', 'counter', 'Bytes read from client connections, per protocol (protocol framing and TLS included).'],
  ['bytesOut', 'junction_sent_bytes_total', 'counter', 'Bytes written to client connections, per protocol (protocol framing and TLS included).'],
  ['protocolErrors', 'junction_protocol_errors_total', 'counter', 'Connections closed or refused for bad input or a protocol violation, per protocol.'],
];

export function writeConnectionMetrics(w: ExpositionWriter, connections: ConnectionRegistry | undefined, auth: AuthPlugin): void {
  const totals = connections?.totals() ?? [];
  for (const [key, name, type, help] of FAMILIES) {
    w.family(name, type, help, totals.map((t): Sample => ({ labels: { protocol: t.protocol }, value: t[key] as number })));
  }
  w.family('junction_connections_refused_total', 'counter', 'Sockets closed on accept, per protocol: past limits.maxConnections (reason="limit") or limits.connectionRate (reason="rate").',
    totals.flatMap((t): Sample[] => [
      { labels: { protocol: t.protocol, reason: 'limit' }, value: t.refusedOverLimit },
      { labels: { protocol: t.protocol, reason: 'rate' }, value: t.refusedOverRate },
    ]));
  const failures = new Map(auth.failureCounts?.() ?? []);
  for (const t of totals) if (!failures.has(t.protocol)) failures.set(t.protocol, 0);
  w.family('junction_auth_failures_total', 'counter', 'Refused logins (bad credentials, or an address refused after too many), per protocol.',
    [...failures].map(([protocol, value]) => ({ labels: { protocol }, value })));
}
