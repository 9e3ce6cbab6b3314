/** A configuration problem: `message` is the one line printed after `junction: config error: `. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  /** Process exit code the CLI uses. */
  readonly exitCode = 2;
  constructor(
    message: string,
    /** The key at fault, dotted (`storage.fsync`), when there is one. */
    readonly key?: string,
  ) {
    super(message);
  }
}
