/**
 * One child process (a nats-server, a Junction node) with its output kept, its exit as a promise,
 * and a guarantee that it does not outlive this process: every live child is SIGKILLed when this
 * process exits, however it exits through Node's 'exit' event.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { eachLine, OutputTail } from './output.js';

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function killAllOnExit(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const child of live) child.kill('SIGKILL');
  });
}

export interface ChildOptions {
  /** Name used in messages, e.g. "nats-2" or "node-1". */
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Own process group, so a terminal's Ctrl-C reaches only the parent, which then stops children in order. */
  detached?: boolean;
  /** Every output line, stdout and stderr alike. */
  onLine?: (line: string) => void;
  /** Characters of output kept for output() (default 256 KiB). */
  outputLimit?: number;
}

export class Child {
  readonly process: ChildProcess;
  /** Exit code, or null when a signal ended it. Never rejects. */
  readonly exited: Promise<number | null>;
  private readonly tail: OutputTail;
  private done = false;

  constructor(readonly options: ChildOptions) {
    killAllOnExit();
    this.tail = new OutputTail(options.outputLimit);
    const child = spawn(options.command, options.args, {
      env: options.env ?? process.env,
      cwd: options.cwd,
      detached: options.detached ?? false,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.process = child;
    live.add(child);
    const onLine = (line: string): void => {
      this.tail.write(`${line}\n`);
      options.onLine?.(line);
    };
    eachLine(child.stdout!, onLine);
    eachLine(child.stderr!, onLine);
    this.exited = new Promise((resolve) => {
      child.once('error', (err) => {
        // spawn failures (binary missing) arrive here; 'exit' may never follow.
        onLine(`${options.name}: cannot start ${options.command}: ${err.message}`);
        this.finish();
        resolve(127);
      });
      child.once('exit', (code) => {
        this.finish();
        resolve(code);
      });
    });
  }

  get name(): string {
    return this.options.name;
  }

  get pid(): number | undefined {
    return this.process.pid;
  }

  get running(): boolean {
    return !this.done;
  }

  /** The last output lines (bounded), for error messages and debugging. */
  output(): string {
    return this.tail.toString();
  }

  /** Sends `signal` (SIGKILL by default) and waits until the process is gone. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<number | null> {
    if (!this.done) this.process.kill(signal);
    return this.exited;
  }

  /** SIGTERM, then SIGKILL after `graceMs` if it has not exited. */
  async stop(graceMs = 15000): Promise<number | null> {
    if (this.done) return this.exited;
    this.process.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const forced = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        if (!this.done) this.process.kill('SIGKILL');
        resolve();
      }, graceMs);
    });
    await Promise.race([this.exited, forced]);
    clearTimeout(timer);
    return this.exited;
  }

  private finish(): void {
    this.done = true;
    live.delete(this.process);
  }
}

/** Resolves when `ready()` first returns true (polled every `intervalMs`); rejects if the child exits first or on timeout. */
export async function waitUntil(child: Child, what: string, ready: () => Promise<boolean> | boolean, timeoutMs: number, intervalMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!child.running) {
      const exitCode = await child.exited;
      throw new Error(`${child.name} exited (${exitCode === null ? 'killed by a signal' : `code ${exitCode}`}) before ${what}:\n${child.output()}`);
    }
    if (await ready()) return;
    if (Date.now() > deadline) throw new Error(`${child.name}: no ${what} after ${timeoutMs} ms:\n${child.output()}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
