/** Runs `node bin/junction.js ARGS` as a child process with stdin input, collecting its output. */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const BIN = fileURLToPath(new URL('../../../bin/junction.js', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface Running {
  child: ChildProcess;
  result: Promise<CliResult>;
  /** What it printed on stdout so far. */
  stdout: () => string;
}

/** Starts the CLI; `input` is written to stdin, which is then closed (so stdin is a pipe, never a TTY). */
export function start(args: string[], input = '', timeoutMs = 30_000, env: Record<string, string> = {}): Running {
  return startProcess(process.execPath, [BIN, ...args], input, timeoutMs, env);
}

/** Any program, collected as `start` does (used to run the CLI under `script`, on a terminal). */
export function startProcess(file: string, args: string[], input = '', timeoutMs = 30_000, env: Record<string, string> = {}): Running {
  const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, JUNCTION_DEBUG: '', ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => { stdout += d.toString('utf8'); });
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString('utf8'); });
  child.stdin!.on('error', () => undefined);
  child.stdin!.end(input);
  const result = new Promise<CliResult>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
  return { child, result, stdout: () => stdout };
}

export function junction(args: string[], input = '', timeoutMs?: number, env?: Record<string, string>): Promise<CliResult> {
  return start(args, input, timeoutMs, env).result;
}

/** Resolves once `running` printed something matching `re` on stdout (or fails when it exits first). */
export async function printed(running: Running, re: RegExp): Promise<void> {
  let exited = false;
  void running.result.then(() => { exited = true; });
  for (let i = 0; i < 200; i++) {
    if (re.test(running.stdout())) return;
    if (exited) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the command ${exited ? 'exited' : 'went on'} without printing ${re}: ${JSON.stringify(running.stdout())}`);
}

/** The one line a failing command must print: exactly one line on stderr, nothing on stdout, exit 1. */
export function oneLineFailure(r: CliResult): string {
  if (r.code !== 1 || r.stdout !== '' || r.stderr.trimEnd().split('\n').length !== 1 || /\n\s+at /.test(r.stderr)) {
    throw new Error(`expected one line on stderr and exit 1, got exit ${r.code}, stdout ${JSON.stringify(r.stdout)}, stderr ${JSON.stringify(r.stderr)}`);
  }
  return r.stderr.trimEnd();
}
