import { GitError } from './errors';
import { NOT_INSTALLED, runGit } from './run';

/** GIT_CONFIG_COUNT, which carries the token and every setting, is read from git 2.31 on; an older git would ignore it. */
const MINIMUM = { major: 2, minor: 31 };

/** The git client on PATH when it is recent enough to take backups; a GitError naming what to install otherwise. */
export async function checkGit(): Promise<{ version: string }> {
  let line: string;
  try {
    line = (await runGit(['--version'], { timeoutMs: 10_000 })).stdout.toString('utf8').trim();
  } catch {
    throw new GitError(NOT_INSTALLED);
  }
  const version = versionOf(line);
  if (version === null) throw new GitError(NOT_INSTALLED);
  if (!isSupportedVersion(line)) throw new GitError(NOT_INSTALLED.replace('git is not installed', `git ${version} is too old`));
  return { version };
}

function versionOf(line: string): string | null {
  return line.match(/^git version (\d+\.\d+\S*)/)?.[1] ?? null;
}

/** Whether a `git --version` line names a git recent enough. */
export function isSupportedVersion(line: string): boolean {
  const match = line.match(/^git version (\d+)\.(\d+)/);
  if (!match) return false;
  const [major, minor] = [Number(match[1]), Number(match[2])];
  return major > MINIMUM.major || (major === MINIMUM.major && minor >= MINIMUM.minor);
}
