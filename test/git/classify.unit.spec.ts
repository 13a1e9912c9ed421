import { classifyRemoteFailure } from '../../src/git/classify';

/** What git 2.39 writes (LC_ALL=C) for each answer, as seen against a server answering that status. */
const SAMPLES: [string, string, number | undefined][] = [
  [
    "error: unable to read askpass response from '/bin/false'\nfatal: could not read Username for 'http://127.0.0.1:18401': terminal prompts disabled",
    'UNAUTHORIZED',
    401,
  ],
  ["fatal: Authentication failed for 'https://gitlab.example.com/a/b.git/'", 'UNAUTHORIZED', 401],
  ["fatal: unable to access 'http://127.0.0.1:18403/g/p.git/': The requested URL returned error: 403", 'FORBIDDEN', 403],
  ["fatal: repository 'http://127.0.0.1:18404/g/p.git/' not found", 'NOT_FOUND', 404],
  ["fatal: unable to access 'http://127.0.0.1:18404/g/p.git/': The requested URL returned error: 404", 'NOT_FOUND', 404],
  ["fatal: unable to access 'http://127.0.0.1:18429/g/p.git/': The requested URL returned error: 429", 'RATE_LIMITED', 429],
  ["fatal: unable to access 'http://127.0.0.1:18500/g/p.git/': The requested URL returned error: 500", 'SERVER_ERROR', 500],
  ['error: RPC failed; HTTP 502 curl 22 The requested URL returned error: 502\nfatal: expected flush after ref listing', 'SERVER_ERROR', 502],
  ["fatal: unable to access 'http://127.0.0.1:18302/g/p.git/': The requested URL returned error: 302", 'BAD_RESPONSE', 302],
  [
    "fatal: unable to access 'http://127.0.0.1:1/x.git/': Failed to connect to 127.0.0.1 port 1 after 0 ms: Couldn't connect to server",
    'UNREACHABLE',
    undefined,
  ],
  ["fatal: unable to access 'http://nonexistent.invalid/x.git/': Could not resolve host: nonexistent.invalid", 'UNREACHABLE', undefined],
  ["fatal: unable to access 'https://h/x.git/': Connection refused", 'UNREACHABLE', undefined],
  ["fatal: unable to access 'https://h/x.git/': SSL certificate problem: self-signed certificate", 'UNREACHABLE', undefined],
  ["fatal: unable to access 'https://h/x.git/': Operation timed out after 300000 milliseconds with 0 bytes received", 'TIMEOUT', undefined],
  [
    "To https://h/a/b.git / ! [remote rejected] main -> main (pre-receive hook declined) / error: failed to push some refs to 'https://h/a/b.git'",
    'FORBIDDEN',
    undefined,
  ],
  ['remote: GitLab: You are not allowed to force push code to a protected branch on this project.', 'FORBIDDEN', undefined],
  ['fatal: the remote end hung up unexpectedly', 'UNREACHABLE', undefined],
  ['fatal: protocol error: bad line length character: <htm', 'BAD_RESPONSE', undefined],
];

describe('classifyRemoteFailure', () => {
  it.each(SAMPLES)('reads %j as %s', (stderr, failure, status) => {
    const found = classifyRemoteFailure(stderr);
    expect(found?.failure).toBe(failure);
    expect(found?.status).toBe(status);
  });

  it('leaves a local failure unclassified', () => {
    expect(classifyRemoteFailure("fatal: not a git repository: '/tmp/x'")).toBeNull();
    expect(classifyRemoteFailure('fatal: Unable to create /tmp/x/refs/heads/main.lock: File exists.')).toBeNull();
  });
});
