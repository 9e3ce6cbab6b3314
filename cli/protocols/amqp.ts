/**
 * AMQP 1.0 for send/receive with rhea. The address is the URL path with its slash
 * (`/queue/jobs`, `/topic/a.b`), or as written when it names a node another way
 * (`amqp://host/jobs` -> `jobs`). Bodies go as one data section, headers as
 * application-properties; a send resolves on the `accepted` outcome, a receive accepts only
 * what it printed (the rest is released back to a queue).
 */
import type { Connection, EventContext, Message } from 'rhea';
import { CliError } from '../errors.js';
import { headersOf, type ConnectOptions, type ProtocolClient } from './types.js';

/** The AMQP error's description or condition. */
function why(e: unknown): string {
  const err = e as { description?: string; condition?: string; message?: string } | undefined;
  return err?.description ?? err?.condition ?? err?.message ?? 'error';
}

function address(o: ConnectOptions): string {
  return /^(queue|topic|queues|exchange|amq)\//.test(o.target.path) ? `/${o.target.path}` : o.target.path;
}

async function connect(o: ConnectOptions): Promise<Connection> {
  const rhea = (await import('rhea')).default;
  const t = o.target;
  const container = rhea.create_container({ id: `junction-cli-${process.pid}` });
  const conn = container.connect({
    host: t.host,
    port: t.port,
    hostname: t.params.get('hostname') ?? t.host,
    reconnect: false,
    ...(o.user ? { username: o.user, password: o.password ?? '' } : {}),
    ...(t.tls ? { transport: 'tls' as const, servername: t.host, ...o.tls } : {}),
  } as never);
  await new Promise<void>((resolve, reject) => {
    conn.once('connection_open', () => resolve());
    conn.once('connection_error', (ctx: EventContext) => reject(new CliError(`the AMQP broker refused the connection: ${why(ctx.connection.error)}`)));
    conn.once('disconnected', (ctx: EventContext) => reject(ctx.error ?? new CliError(`the AMQP broker at ${t.host}:${t.port} closed the connection`)));
  });
  conn.on('disconnected', () => undefined);
  conn.on('error', () => undefined);
  return conn;
}

function closeConnection(conn: Connection): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, 2000);
    conn.once('connection_close', () => { clearTimeout(t); resolve(); });
    conn.close();
  });
}

function bodyOf(m: Message): Buffer {
  const b = m.body as unknown;
  if (Buffer.isBuffer(b)) return b;
  const section = b as { typecode?: number; content?: unknown } | null;
  if (section && typeof section === 'object' && section.typecode !== undefined && Buffer.isBuffer(section.content)) return section.content;
  if (typeof b === 'string') return Buffer.from(b, 'utf8');
  if (b === undefined || b === null) return Buffer.alloc(0);
  return Buffer.from(JSON.stringify(b), 'utf8');
}

export const amqpClient: ProtocolClient = {
  async sender(o) {
    const rhea = (await import('rhea')).default;
    const conn = await connect(o);
    const sender = conn.open_sender({ target: { address: address(o) } });
    await new Promise<void>((resolve, reject) => {
      sender.once('sendable', () => resolve());
      sender.once('sender_error', (ctx: EventContext) => reject(new CliError(`the AMQP broker refused the address ${address(o)}: ${why(ctx.sender?.error)}`)));
    });
    return {
      async send(m) {
        while (!sender.sendable()) await new Promise<void>((r) => sender.once('sendable', () => r()));
        const message: Message = {
          body: rhea.message.data_section(m.body),
          application_properties: Object.keys(m.headers).length ? m.headers : undefined,
          content_type: m.contentType,
          durable: true,
        } as Message;
        const delivery = sender.send(message);
        await new Promise<void>((resolve, reject) => {
          const settled = (ctx: EventContext) => {
            if (ctx.delivery !== delivery) return;
            sender.removeListener('accepted', onAccepted);
            sender.removeListener('rejected', onRefused);
            sender.removeListener('released', onRefused);
            sender.removeListener('modified', onRefused);
            return true;
          };
          const onAccepted = (ctx: EventContext) => { if (settled(ctx)) resolve(); };
          const onRefused = (ctx: EventContext) => {
            if (settled(ctx)) reject(new CliError(`the AMQP broker did not accept the message: ${ctx.delivery?.remote_state?.error?.description ?? 'not accepted'}`));
          };
          sender.on('accepted', onAccepted);
          sender.on('rejected', onRefused);
          sender.on('released', onRefused);
          sender.on('modified', onRefused);
        });
      },
      async close() { await closeConnection(conn); },
    };
  },
  async receiver(o) {
    const conn = await connect(o);
    return {
      async start(onMessage) {
        const window = Math.min(o.count ?? 100, 100);
        const receiver = conn.open_receiver({ source: { address: address(o) }, autoaccept: false, credit_window: window });
        receiver.on('message', (ctx: EventContext) => {
          const m = ctx.message!;
          const wanted = onMessage({
            body: bodyOf(m),
            headers: headersOf(m.application_properties),
            contentType: m.content_type,
            fields: { address: address(o), 'message-id': m.message_id, subject: m.subject },
          });
          if (wanted) ctx.delivery?.accept();
          else ctx.delivery?.release();
        });
        await new Promise<void>((resolve, reject) => {
          receiver.once('receiver_open', () => resolve());
          receiver.once('receiver_error', (ctx: EventContext) => reject(new CliError(`the AMQP broker refused the address ${address(o)}: ${why(ctx.receiver?.error)}`)));
        });
      },
      async close() { await closeConnection(conn); },
    };
  },
};
