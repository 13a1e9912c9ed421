import { ConfigError, loadConfig } from '../../src/config';

const base = { BACKPLANE_DATA_DIR: '/nonexistent-backplane-test' };
const refusal = (env: Record<string, string>): ConfigError => {
  try {
    loadConfig({ ...base, ...env });
  } catch (error) {
    return error as ConfigError;
  }
  throw new Error('loadConfig took it');
};

describe('SMTP settings for notification e-mail', () => {
  it('has none unless given, and notifies throttles of 30 minutes or more', () => {
    const config = loadConfig(base);
    expect(config.smtp).toBeUndefined();
    expect(config.notifyThrottledMinutes).toBe(30);
    expect(loadConfig({ ...base, BACKPLANE_NOTIFY_THROTTLED_MINUTES: '5' }).notifyThrottledMinutes).toBe(5);
  });

  it('takes a URL, or a host with its port, login and sender', () => {
    expect(loadConfig({ ...base, BACKPLANE_SMTP_URL: 'smtps://mailer:pw@mail.example.test:465' }).smtp).toEqual({
      url: 'smtps://mailer:pw@mail.example.test:465',
      from: 'backplane@localhost',
    });
    expect(
      loadConfig({
        ...base,
        BACKPLANE_SMTP_HOST: 'mail.example.test',
        BACKPLANE_SMTP_USER: 'mailer',
        BACKPLANE_SMTP_PASSWORD: 'pw',
        BACKPLANE_SMTP_FROM: 'ops@example.test',
      }).smtp,
    ).toEqual({ host: 'mail.example.test', port: 587, user: 'mailer', password: 'pw', from: 'ops@example.test' });
  });

  it('refuses what it cannot use without quoting it: the password may be in it', () => {
    const password = 'hunter2-is-the-password';
    const cases: Record<string, string>[] = [
      { BACKPLANE_SMTP_URL: `http://mailer:${password}@mail.example.test` },
      { BACKPLANE_SMTP_URL: `smtp://mailer:${password}@mail.example.test`, BACKPLANE_SMTP_HOST: 'mail.example.test' },
      { BACKPLANE_SMTP_PASSWORD: password },
      { BACKPLANE_SMTP_HOST: 'mail.example.test', BACKPLANE_SMTP_PORT: 'twenty-five', BACKPLANE_SMTP_PASSWORD: password },
    ];
    for (const env of cases) {
      const error = refusal(env);
      expect(error).toBeInstanceOf(ConfigError);
      expect(error.message).toMatch(/BACKPLANE_SMTP_/);
      expect(error.message).not.toContain(password);
    }
  });
});
