/** DISCONNECT: the RECEIPT follows once every earlier frame's effect is stored; then the connection closes. */
import type { StompFrame } from '../frame.js';
import type { StompContext } from '../context.js';

export async function disconnect(conn: StompContext, frame: StompFrame): Promise<void> {
  await conn.whenIdle();
  conn.receipt(frame);
  conn.close('client disconnected');
}
