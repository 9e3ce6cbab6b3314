/** One handler per client frame (after aedes's lib/handlers). */
import { ack, nack } from './ack.js';
import { connect } from './connect.js';
import { disconnect } from './disconnect.js';
import { send } from './send.js';
import { subscribe } from './subscribe.js';
import { abort, begin, commit } from './transaction.js';
import { unsubscribe } from './unsubscribe.js';

export const handlers = {
  CONNECT: connect,
  STOMP: connect,
  SEND: send,
  SUBSCRIBE: subscribe,
  UNSUBSCRIBE: unsubscribe,
  ACK: ack,
  NACK: nack,
  BEGIN: begin,
  COMMIT: commit,
  ABORT: abort,
  DISCONNECT: disconnect,
} as const;
