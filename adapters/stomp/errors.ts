/** STOMP protocol errors (shared by the connection and the frame handlers). */

/** A protocol error: answered with an ERROR frame and a close. */
export class StompError extends Error {
  override readonly name = 'StompError';
  constructor(message: string, readonly detail?: string, readonly headers?: Record<string, string>) {
    super(message);
  }
}

/** A refused login: the auth plugin logged and counted it already, so it is no protocol error. */
export class StompLoginRefused extends StompError {}
