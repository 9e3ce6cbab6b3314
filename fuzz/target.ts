/** What every fuzz target provides. */
export interface FuzzTarget {
  /** Name used by `--parser`. */
  readonly name: string;
  /** Valid inputs of the protocol (real traffic, encoded with the project's or the clients' encoders). */
  seeds(): Buffer[] | Promise<Buffer[]>;
  /** Protocol tokens the mutator may insert. */
  dictionary?: readonly Buffer[];
  /**
   * Runs one input. Returns a short signature of what happened (the outcome kind or the protocol
   * error, without numbers): inputs with a new signature join the corpus. Throws only for a crash:
   * anything other than the parser's documented protocol errors.
   */
  run(input: Buffer): string | Promise<string>;
  /** Called once after the last input (servers to close). */
  close?(): Promise<void>;
}

/** An unexpected exception (wrapped so the engine can tell it from the parser's own errors). */
export class CrashError extends Error {
  override readonly name = 'CrashError';
  constructor(override readonly cause: unknown, readonly where: string) {
    super(`${where}: ${cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause)}`);
  }
}

/** Signature of an expected error: its class and message with the numbers taken out. */
export function errorSignature(err: unknown): string {
  const e = err as { name?: string; message?: string; condition?: string };
  return `${e?.name ?? typeof err}:${e?.condition ?? ''}:${String(e?.message ?? err).replace(/[0-9a-f]{6,}|\d+/gi, '#').slice(0, 80)}`;
}
