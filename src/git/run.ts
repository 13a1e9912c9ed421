import { spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import { GitLabError } from '../gitlab/types';
import { classifyRemoteFailure } from './classify';
import { emptyFolder, gitEnv } from './env';
import { GitError } from './errors';
import { redact, withoutUserinfo } from './redact';

export interface RunGitOptions {
  /** The repository (GIT_DIR): git looks for no other, in the folders above or anywhere. */
  gitDir?: string;
  /** Where git runs; by default an empty folder. */
  cwd?: string;
  /** Sent as HTTP Basic through the environment; removed from every message. */
  token?: string;
  signal?: AbortSignal;
  /** The whole run, after which git and every process it started are killed (TIMEOUT). */
  timeoutMs?: number;
  input?: Readable | Buffer;
  /** More settings, given as the fixed ones are (through the environment, never argv). */
  config?: Record<string, string>;
  /** What the run does and to which repository, for messages: 'fetch', 'https://gitlab.example.com/a/b.git'. */
  operation?: string;
  remote?: string;
  /** Called for each HTTP request git makes of the remote (GitLab throttles git per request, as the API). */
  onRequest?: () => void;
}

export interface GitResult {
  stdout: Buffer;
  /** Redacted. */
  stderr: string;
}

export interface GitStream {
  /** Ends as git does, failed or not: what it gave is whole only once `done` has resolved. */
  stdout: Readable;
  /** Settles when git has exited: rejects as runGit does. */
  done: Promise<{ stderr: string }>;
}

const MAX_STDERR = 64 * 1024;
const DEFAULT_TIMEOUT_MS = 30 * 60_000;

/**
 * Runs git without a shell, in an environment built from nothing (see gitEnv), in a process group
 * of its own so that a timeout or an abort also ends the helpers it started (git-remote-http,
 * index-pack). A failure that is about the remote is a GitLabError, as the API's are, so the
 * credential pool treats both alike; any other is a GitError.
 */
export function runGit(args: string[], options?: RunGitOptions & { stdout?: 'buffer' }): Promise<GitResult>;
export function runGit(args: string[], options: RunGitOptions & { stdout: 'stream' }): GitStream;
export function runGit(args: string[], options: RunGitOptions & { stdout?: 'buffer' | 'stream' } = {}): Promise<GitResult> | GitStream {
  const started = start(args, options);
  if (options.stdout === 'stream') {
    // A reader busy with the stream attaches to `done` late: its failure must not count as unhandled meanwhile.
    started.done.catch(() => {});
    return { stdout: started.stdout, done: started.done };
  }
  const chunks: Buffer[] = [];
  started.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
  return started.done.then(({ stderr }) => ({ stdout: Buffer.concat(chunks), stderr }));
}

function start(args: string[], options: RunGitOptions) {
  const what = describe(args, options);
  const child = spawn('git', args, {
    cwd: options.cwd ?? emptyFolder(),
    env: { ...gitEnv({ token: options.token, config: options.config, gitDir: options.gitDir }), ...(options.remote ? TRACE_ENV : {}) },
    stdio: ['pipe', 'pipe', 'pipe', 'pipe'],
    detached: true,
    shell: false,
  });
  // Four pipes were asked for, so all four are there.
  const [stdin, stdout, stderrPipe] = [child.stdin!, child.stdout!, child.stderr!];
  let stderr = '';
  stderrPipe.setEncoding('utf8');
  stderrPipe.on('data', (chunk: string) => {
    if (stderr.length < MAX_STDERR) stderr += chunk;
  });
  const http = { retryAfterMs: undefined as number | undefined };
  const trace = child.stdio[3] as Readable;
  if (options.remote) readTrace(trace, options.onRequest ?? (() => {}), http);
  else trace.resume();
  let ended: 'TIMEOUT' | 'ABORTED' | 'INPUT' | null = null;
  let inputError = '';
  const killGroup = () => {
    try {
      if (child.pid) process.kill(-child.pid, 'SIGKILL');
    } catch {
      // The group has already gone.
    }
  };
  const end = (why: 'TIMEOUT' | 'ABORTED' | 'INPUT') => {
    ended ??= why;
    killGroup();
  };
  const timer = setTimeout(() => end('TIMEOUT'), options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  const onAbort = () => end('ABORTED');
  if (options.signal?.aborted) end('ABORTED');
  else options.signal?.addEventListener('abort', onAbort, { once: true });

  // A closed stdin (git did not read all of it, or was killed) is told by the exit, not here.
  stdin.on('error', () => {});
  if (options.input === undefined) stdin.end();
  else if (Buffer.isBuffer(options.input)) stdin.end(options.input);
  else {
    // A source that fails would leave git waiting for the rest of its input until the timeout.
    options.input.once('error', (error) => {
      inputError = error.message;
      end('INPUT');
    });
    options.input.pipe(stdin);
  }

  const done = new Promise<{ stderr: string }>((resolve, reject) => {
    child.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      reject(error.code === 'ENOENT' ? new GitError(NOT_INSTALLED) : new GitError(`${what} could not start: ${error.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      const text = redact(oneLine(stderr), options.token);
      if (ended === 'ABORTED') return reject(new GitLabError('ABORTED', `${what} was stopped: the work it was for stopped`));
      if (ended === 'TIMEOUT')
        return reject(new GitLabError('TIMEOUT', `${what} took longer than ${options.timeoutMs ?? DEFAULT_TIMEOUT_MS} ms and was stopped`));
      if (ended === 'INPUT') return reject(new GitError(`${what} was stopped: its input failed: ${redact(inputError, options.token)}`));
      if (code === 0) return resolve({ stderr: text });
      const remote = options.remote ? classifyRemoteFailure(oneLine(stderr)) : null;
      if (remote) {
        const retryAfterMs = remote.failure === 'RATE_LIMITED' ? http.retryAfterMs : undefined;
        return reject(
          new GitLabError(remote.failure, `${what} failed: ${remote.reason}: ${text}`, { status: remote.status, gitlabMessage: text, retryAfterMs }),
        );
      }
      reject(new GitError(`${what} failed (${signal ?? `exit ${code}`}): ${text}`));
    });
  });
  return { stdout, done };
}

/**
 * git's trace of its HTTP headers, written to a pipe (fd 3) read here and kept nowhere: it tells
 * each request git makes, and how long a 429 asks to wait. git writes `Authorization: <redacted>`
 * in it (GIT_TRACE_REDACT), and bodies are left out.
 */
const TRACE_ENV = { GIT_TRACE_CURL: '3', GIT_TRACE_CURL_NO_DATA: '1', GIT_TRACE_REDACT: '1' };

function readTrace(trace: Readable, onRequest: () => void, http: { retryAfterMs: number | undefined }): void {
  let partial = '';
  trace.setEncoding('utf8');
  trace.on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (/=> Send header: (GET|POST) /.test(line)) onRequest();
      const retryAfter = line.match(/<= Recv header: retry-after: (\d+)/i);
      if (retryAfter) http.retryAfterMs = Number(retryAfter[1]) * 1000;
    }
  });
}

/**
 * Controls and direction marks, which a server's `remote:` lines may carry to rewrite how a message
 * reads in a terminal or a page (core/echo.ts keeps the same list, out of this edge's reach).
 */
const HIDDEN_CHARACTERS = '\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069';
const HIDDEN = new RegExp(`[${HIDDEN_CHARACTERS}]`, 'gu');

/** git's stderr as one line for a message, without the askpass noise every refused token brings. */
function oneLine(stderr: string): string {
  return stderr
    .split('\n')
    .map((line) => line.replace(HIDDEN, '?').trim())
    .filter((line) => line !== '' && !line.startsWith('error: unable to read askpass response'))
    .join(' / ');
}

function describe(args: string[], options: RunGitOptions): string {
  const operation = options.operation ?? `git ${args[0] ?? ''}`.trim();
  return (options.remote ? `${operation} of ${withoutUserinfo(options.remote)}` : operation).replace(HIDDEN, '?');
}

export const NOT_INSTALLED =
  'git is not installed: Backplane needs the git client (2.31 or later) on PATH to take backups; install it (Debian: apt-get install git)';
