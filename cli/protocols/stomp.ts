/**
 * STOMP for send/receive with @stomp/stompjs over a TCP socket (stomp-tcp-socket.ts). The
 * destination is the URL path (`/queue/jobs`, `/topic/a.b`); every SEND asks for a receipt, so a
 * send resolves once the broker stored the message; receive acknowledges (client-individual) only
 * the messages it printed, so the rest stay on a queue.
 */
import type { Client, IMessage, StompHeaders } from '@stomp/stompjs';
import { CliError } from '../errors.js';
import { StompTcpSocket } from './stomp-tcp-socket.js';
import type { ConnectOptions, ProtocolClient, ReceivedMessage } from './types.js';

const RESERVED = new Set(['destination', 'message-id', 'subscription', 'ack', 'content-length', 'content-type', 'receipt', 'redelivered', 'expires', 'priority', 'persistent', 'timestamp']);

async function connect(o: ConnectOptions): Promise<Client> {
  const { Client } = await import('@stomp/stompjs');
  const t = o.target;
  let socket: StompTcpSocket | null = null;
  const client = new Client({
    webSocketFactory: () => (socket = new StompTcpSocket(t.host, t.port, t.tls ? o.tls : null)),
    connectHeaders: { host: t.params.get('vhost') ?? t.host, ...(o.user ? { login: o.user, passcode: o.password ?? '' } : {}) },
    reconnectDelay: 0,
    heartbeatIncoming: 0,
    heartbeatOutgoing: 0,
    connectionTimeout: 5000,
    debug: () => undefined,
  });
  await new Promise<void>((resolve, reject) => {
    client.onConnect = () => resolve();
    client.onStompError = (f) => reject(new CliError(`the STOMP broker refused: ${f.headers.message ?? f.body}`));
    client.onWebSocketClose = () => {
      const s = socket as StompTcpSocket | null;
      reject(s?.lastError ?? new CliError(`the STOMP broker at ${t.host}:${t.port} closed the connection`));
    };
    client.activate();
  });
  return client;
}

function destination(o: ConnectOptions): string {
  return `/${o.target.path}`;
}

export const stompClient: ProtocolClient = {
  async sender(o) {
    const client = await connect(o);
    let n = 0;
    let failure: Error | null = null;
    client.onStompError = (f) => { failure = new CliError(`the STOMP broker refused: ${f.headers.message ?? f.body}`); };
    return {
      async send(m) {
        if (failure) throw failure;
        const receipt = `r-${++n}`;
        const headers: StompHeaders = { ...m.headers, receipt, persistent: 'true' };
        if (m.contentType) headers['content-type'] = m.contentType;
        const got = new Promise<void>((resolve, reject) => {
          client.watchForReceipt(receipt, () => resolve());
          const prev = client.onStompError;
          client.onStompError = (f) => { prev(f); reject(new CliError(`the STOMP broker refused: ${f.headers.message ?? f.body}`)); };
          client.onWebSocketClose = () => reject(failure ?? new CliError('the STOMP broker closed the connection'));
        });
        client.publish({ destination: destination(o), binaryBody: new Uint8Array(m.body), headers });
        await got;
      },
      async close() { await client.deactivate(); },
    };
  },
  async receiver(o) {
    const client = await connect(o);
    return {
      async start(onMessage) {
        const subscribed = new Promise<void>((resolve) => client.watchForReceipt('subscribed', () => resolve()));
        client.subscribe(destination(o), (msg: IMessage) => {
          const headers: Record<string, string> = {};
          for (const [k, v] of Object.entries(msg.headers)) if (!RESERVED.has(k)) headers[k] = v;
          const m: ReceivedMessage = {
            body: Buffer.from(msg.binaryBody),
            headers,
            contentType: msg.headers['content-type'],
            fields: { destination: msg.headers.destination, 'message-id': msg.headers['message-id'] },
          };
          // Unwanted messages are left unacknowledged: the broker gives them back when we leave.
          if (onMessage(m)) msg.ack();
        }, { ack: 'client-individual', receipt: 'subscribed' });
        await subscribed;
      },
      async close() { await client.deactivate(); },
    };
  },
};
