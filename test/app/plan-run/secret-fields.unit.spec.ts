import { withoutSecrets } from '../../../src/app/plan-run/secret-fields';

describe('withoutSecrets', () => {
  it("leaves out a project's token fields at every depth and keeps its settings", () => {
    const secret = ['GR1348941', 'made', 'up', 'for', 'this', 'test'].join('');
    const project = {
      id: 7,
      name: 'web',
      runners_token: secret,
      ci_job_token_scope_enabled: true,
      service_desk_address: 'contact-7@example.com',
      shared_runners_enabled: true,
      topics: ['a', 'b'],
      namespace: { id: 1, full_path: 'acme', deploy_token: secret },
      hooks: [{ url: 'https://example.com', token: secret, webhook_secret: secret }],
      import_password: secret,
    };
    const kept = withoutSecrets(project);
    expect(kept).toEqual({
      id: 7,
      name: 'web',
      ci_job_token_scope_enabled: true,
      service_desk_address: 'contact-7@example.com',
      shared_runners_enabled: true,
      topics: ['a', 'b'],
      namespace: { id: 1, full_path: 'acme' },
      hooks: [{ url: 'https://example.com' }],
    });
    expect(JSON.stringify(kept)).not.toContain(secret);
    // The answer itself is left as GitLab gave it.
    expect(project.runners_token).toBe(secret);
  });

  it('keeps an address field without its user, password, query or fragment, and leaves out one that is not a URL', () => {
    const password = ['pull', 'mirror', 'secret'].join('-');
    const token = ['query', 'token', 'made', 'up'].join('-');
    const project = {
      import_url: `https://u:${password}@h.example/r.git?private_token=${token}#${token}`,
      web_url: 'https://gitlab.example/acme/web',
      avatar_url: null,
      mirror: { remote_url: `git://u:${password}@h.example/r.git` },
      other_url: `u:${password}@h.example:r.git`,
      empty_url: '',
    };
    const kept = withoutSecrets(project);
    expect(kept).toEqual({
      import_url: 'https://h.example/r.git',
      web_url: 'https://gitlab.example/acme/web',
      avatar_url: null,
      mirror: { remote_url: 'git://h.example/r.git' },
      empty_url: '',
    });
    expect(JSON.stringify(kept)).not.toContain(password);
    expect(JSON.stringify(kept)).not.toContain(token);
  });
});
