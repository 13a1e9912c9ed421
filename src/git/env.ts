import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { basicCredentials } from './redact';

/**
 * Settings every git run gets, through GIT_CONFIG_COUNT (git 2.31 and later) so that none of
 * them, and no token, is on a command line another user of the host can read:
 * - no credential helper may store or offer a token, and no prompt waits for one;
 * - a redirect is not followed, since the Authorization header would go along to another host;
 * - only http(s) remotes: a hostile URL cannot run a command (ext::) or read a local path (file://);
 * - no hook runs, and gc never detaches a process that outlives the call.
 */
const FIXED_CONFIG: [string, string][] = [
  ['credential.helper', ''],
  ['http.followRedirects', 'false'],
  ['protocol.allow', 'never'],
  ['protocol.https.allow', 'always'],
  ['protocol.http.allow', 'always'],
  ['core.hooksPath', '/dev/null'],
  ['gc.autoDetach', 'false'],
  ['maintenance.autoDetach', 'false'],
  ['advice.detachedHead', 'false'],
];

/**
 * What is taken from Backplane's own environment: where programs are, and how this host reaches
 * the network (proxies, certificate authorities). Anything else (a database URL, a master key)
 * stays out of git's reach.
 */
const INHERITED = [
  'PATH',
  'TMPDIR',
  'http_proxy',
  'https_proxy',
  'no_proxy',
  'all_proxy',
  'HTTP_PROXY',
  'HTTPS_PROXY',
  'NO_PROXY',
  'ALL_PROXY',
  'SSL_CERT_FILE',
  'SSL_CERT_DIR',
  'GIT_SSL_CAINFO',
  'GIT_SSL_CAPATH',
];

let emptyHome: string | undefined;

/**
 * A folder with nothing in it: git's home, so no ~/.gitconfig of the service's user applies, and
 * where it runs when no repository is named, so it finds none (the service's own folder may be one).
 */
export function emptyFolder(): string {
  if (emptyHome === undefined) {
    const made = mkdtempSync(join(tmpdir(), 'backplane-git-home-'));
    process.once('exit', () => rmSync(made, { recursive: true, force: true }));
    emptyHome = made;
  }
  return emptyHome;
}

/**
 * The whole environment of a git run. With a token, git sends it as HTTP Basic (user oauth2) in
 * an extra header held in GIT_CONFIG_VALUE_n: never on argv, in a remote URL or in a config file.
 */
export function gitEnv(
  options: { token?: string; config?: Record<string, string>; gitDir?: string } = {},
  source: NodeJS.ProcessEnv = process.env,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of INHERITED) {
    const value = source[name];
    if (value !== undefined) env[name] = value;
  }
  Object.assign(env, {
    HOME: emptyFolder(),
    XDG_CONFIG_HOME: emptyFolder(),
    GIT_CEILING_DIRECTORIES: dirname(emptyFolder()),
    LC_ALL: 'C',
    LANG: 'C',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_TERMINAL_PROMPT: '0',
    GIT_ASKPASS: '/bin/false',
    SSH_ASKPASS: '/bin/false',
  });
  if (options.gitDir) env.GIT_DIR = resolve(options.gitDir);
  const config: [string, string][] = [...FIXED_CONFIG, ...Object.entries(options.config ?? {})];
  if (options.token) config.push(['http.extraHeader', `Authorization: Basic ${basicCredentials(options.token)}`]);
  config.forEach(([key, value], index) => {
    env[`GIT_CONFIG_KEY_${index}`] = key;
    env[`GIT_CONFIG_VALUE_${index}`] = value;
  });
  env.GIT_CONFIG_COUNT = String(config.length);
  return env;
}
