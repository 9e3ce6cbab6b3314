/** SEND: to a topic (broker.publish) or a queue (broker.sendToQueue); RECEIPT once stored. */
import { checkTopicName } from '../../../core/names.js';
import { ownerOf, QueueNotFoundError } from '../../../core/queue-types.js';
import type { StompFrame } from '../frame.js';
import type { StompContext } from '../context.js';
import { StompError } from '../errors.js';
import { parseDestination } from '../destinations.js';
import { sendFrameToMessage } from '../stomp-message.js';
import { required, tempQueue, transactionOf } from './common.js';
import { autoSubscribeTempQueue } from './subscribe.js';

/** Temporary queues of every protocol (docs/architecture.md): never declared by a SEND. */
const TEMP_PREFIX = 'tmp.';

/** The core form of a reply-to header: `/temp-queue/X` becomes `/queue/<the real queue>`. */
function replyTo(conn: StompContext, value: string | undefined): string | undefined | Promise<string> {
  if (value === undefined) return undefined;
  if (value.startsWith('/temp-queue/') && value.length > 12) {
    const name = value.slice(12);
    const ensure = (real: string) => {
      autoSubscribeTempQueue(conn, name, real);
      return '/queue/' + real;
    };
    const real = tempQueue(conn, name);
    return typeof real === 'string' ? ensure(real) : real.then(ensure);
  }
  if (value.startsWith('/amq/queue/')) return '/queue/' + value.slice(11);
  return value;
}

export function send(conn: StompContext, frame: StompFrame): void | Promise<void> {
  conn.client.messagesIn++;
  const rt = replyTo(conn, frame.headers['reply-to']);
  if (rt instanceof Promise) return rt.then((r) => sendWith(conn, frame, r));
  return sendWith(conn, frame, rt);
}

function sendWith(conn: StompContext, frame: StompFrame, reply: string | undefined): void | Promise<void> {
  const destination = required(frame, 'destination');
  const d = parseDestination(destination);
  const t = transactionOf(conn, frame);
  const broker = conn.broker;
  switch (d.kind) {
    case 'topic': {
      checkTopicName(d.name);
      conn.authorise('publish', d.name);
      const m = sendFrameToMessage(frame.headers, frame.body, d.name, reply, conn.id);
      if (t) {
        t.tx.publish(m);
        conn.receipt(frame);
      } else conn.track(broker.publish(m), frame);
      return;
    }
    case 'queue':
    case 'amq-queue': {
      conn.authorise('publish', d.name);
      const m = sendFrameToMessage(frame.headers, frame.body, d.name, reply, conn.id);
      if (!broker.getQueue(d.name)) {
        if (d.name.startsWith(TEMP_PREFIX)) {
          // A reply to a temporary queue that is not here: in a cluster, the node of its connection
          // takes it. One that is gone (its connection ended) is dropped, as RabbitMQ drops replies
          // to a closed reply queue; declaring it would leave a durable orphan.
          const dropped = (err: unknown) => {
            if (!(err instanceof QueueNotFoundError)) throw err;
            conn.log.debug({ queue: d.name }, 'SEND to a temporary queue that no longer exists: dropped');
          };
          if (t) {
            conn.receipt(frame);
            return;
          }
          conn.track(broker.sendToQueue(d.name, m).catch(dropped), frame);
          return;
        }
        if (d.kind === 'amq-queue') throw new StompError(`no queue "${d.name.slice(0, 256)}"`, `/amq/queue/ names an existing queue; ${d.name} does not exist`);
        return broker.declareQueue(d.name, { durable: true, labels: { owner: ownerOf(conn.principal) } }).then(() => enqueue(conn, frame, d.name, m, t));
      }
      enqueue(conn, frame, d.name, m, t);
      return;
    }
    case 'temp-queue': {
      const real = tempQueue(conn, d.name);
      const go = (q: string) => enqueue(conn, frame, q, sendFrameToMessage(frame.headers, frame.body, q, reply, conn.id), t);
      if (typeof real === 'string') return go(real);
      return real.then(go);
    }
  }
}

function enqueue(conn: StompContext, frame: StompFrame, queue: string, m: ReturnType<typeof sendFrameToMessage>, t: ReturnType<typeof transactionOf>): void {
  if (t) {
    t.tx.send(queue, m);
    conn.receipt(frame);
  } else conn.track(conn.broker.sendToQueue(queue, m), frame);
}
