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
}

/** Starts the CLI; `input` is written to stdin, which is then closed (so stdin is a pipe, never a TTY). */
export function start(args: string[], input = '', timeoutMs = 30_000): Running {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, JUNCTION_DEBUG: '' } });
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
  return { child, result };
}

export function junction(args: string[], input = '', timeoutMs?: number): Promise<CliResult> {
  return start(args, input, timeoutMs).result;
}

/** The one line a failing command must print: exactly one line on stderr, nothing on stdout, exit 1. */
export function oneLineFailure(r: CliResult): string {
  if (r.code !== 1 || r.stdout !== '' || r.stderr.trimEnd().split('\n').length !== 1 || /\n\s+at /.test(r.stderr)) {
    throw new Error(`expected one line on stderr and exit 1, got exit ${r.code}, stdout ${JSON.stringify(r.stdout)}, stderr ${JSON.stringify(r.stderr)}`);
  }
  return r.stderr.trimEnd();
}
