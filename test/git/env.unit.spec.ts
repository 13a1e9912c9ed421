import { gitEnv } from '../../src/git/env';
import { isSupportedVersion } from '../../src/git/version';

const TOKEN = 'made-up-Secret-0123456789';

/** The settings an environment gives git, as key to values (a key may repeat). */
function configOf(env: Record<string, string>): [string, string][] {
  const count = Number(env.GIT_CONFIG_COUNT);
  return Array.from({ length: count }, (_, index) => [env[`GIT_CONFIG_KEY_${index}`], env[`GIT_CONFIG_VALUE_${index}`]] as [string, string]);
}

describe('gitEnv', () => {
  const source = {
    PATH: '/usr/bin:/bin',
    HOME: '/home/service',
    BACKPLANE_MASTER_KEY: 'made-up-master-key',
    DATABASE_URL: 'postgres://u:p@db/backplane',
    HTTPS_PROXY: 'http://proxy:3128',
    GIT_DIR: '/elsewhere',
  };

  it('carries the token as HTTP Basic of oauth2 in a config value, and nowhere else', () => {
    const env = gitEnv({ token: TOKEN }, source);
    const header = configOf(env).find(([key]) => key === 'http.extraHeader');
    const basic = Buffer.from(`oauth2:${TOKEN}`).toString('base64');
    expect(header).toEqual(['http.extraHeader', `Authorization: Basic ${basic}`]);
    const carriers = Object.entries(env).filter(([, value]) => value.includes(basic));
    expect(carriers).toEqual([[expect.stringMatching(/^GIT_CONFIG_VALUE_\d+$/), `Authorization: Basic ${basic}`]]);
    expect(JSON.stringify(env)).not.toContain(TOKEN);
  });

  it("passes nothing of the service's environment but PATH and the network's settings", () => {
    const env = gitEnv({ token: TOKEN }, source);
    expect(env.BACKPLANE_MASTER_KEY).toBeUndefined();
    expect(env.DATABASE_URL).toBeUndefined();
    expect(env.GIT_DIR).toBeUndefined();
    expect(env.PATH).toBe('/usr/bin:/bin');
    expect(env.HTTPS_PROXY).toBe('http://proxy:3128');
    expect(env.HOME).not.toBe('/home/service');
    expect(Object.values(env).join('\n')).not.toContain('made-up-master-key');
  });

  it("turns off prompts, credential helpers, redirects, hooks, the user's and system's config and protocols but http(s)", () => {
    const env = gitEnv({}, source);
    expect(env).toMatchObject({ GIT_TERMINAL_PROMPT: '0', GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null', LC_ALL: 'C', GIT_ASKPASS: '/bin/false' });
    expect(configOf(env)).toEqual(
      expect.arrayContaining([
        ['credential.helper', ''],
        ['http.followRedirects', 'false'],
        ['protocol.allow', 'never'],
        ['protocol.https.allow', 'always'],
        ['protocol.http.allow', 'always'],
        ['core.hooksPath', '/dev/null'],
      ]),
    );
    expect(configOf(env).some(([key]) => key === 'http.extraHeader')).toBe(false);
  });
});

describe('isSupportedVersion', () => {
  it.each([
    ['git version 2.39.5', true],
    ['git version 2.31.0', true],
    ['git version 3.0.0', true],
    ['git version 2.30.9', false],
    ['git version 1.9.1', false],
    ['not git', false],
  ])('%s: %s', (line, supported) => {
    expect(isSupportedVersion(line)).toBe(supported);
  });
});
