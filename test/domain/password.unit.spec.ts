import { fingerprintOf, password, type PasswordCommand, type PasswordEvent } from '../../src/domain/password';
import { deciderSpec } from '../support/decider-spec';

const spec = deciderSpec(password);

type StoreData = Extract<PasswordCommand, { type: 'StorePassword' }>['data'];
const store = (overrides: Partial<StoreData> = {}): PasswordCommand => ({
  type: 'StorePassword',
  data: { passwordId: 'p1', name: 'gitlab bot', description: 'for acme', fingerprint: '••••abcd', secretId: 's1', nameTaken: false, ...overrides },
});
const change = (data: Omit<Extract<PasswordCommand, { type: 'ChangePassword' }>['data'], 'passwordId'>): PasswordCommand => ({
  type: 'ChangePassword',
  data: { passwordId: 'p1', ...data },
});
const remove = (usedBy: string[] = []): PasswordCommand => ({ type: 'DeletePassword', data: { passwordId: 'p1', usedBy } });

const stored: PasswordEvent = {
  type: 'PasswordStored',
  data: { passwordId: 'p1', name: 'gitlab bot', description: 'for acme', fingerprint: '••••abcd', secretId: 's1' },
};
const changedTo = (secretId: string, previousSecretId: string): PasswordEvent => ({
  type: 'PasswordChanged',
  data: { passwordId: 'p1', fingerprint: `••••${secretId}`, secretId, previousSecretId },
});
const deleted: PasswordEvent = { type: 'PasswordDeleted', data: { passwordId: 'p1', secretId: 's1' } };

describe('password', () => {
  describe('StorePassword', () => {
    it('stores the entry by its encrypted copy and fingerprint', () => {
      spec.given([]).when(store()).then([stored]);
    });

    it.each<[string, PasswordEvent[]]>([
      ['stored', [stored]],
      ['deleted', [stored, deleted]],
    ])('refuses an id already %s', (_status, history) => {
      spec
        .given(history)
        .when(store())
        .thenRefuses('CONFLICT', /password p1 already exists/);
    });

    it.each(['', '  '])('refuses a blank name %j', (name) => {
      spec
        .given([])
        .when(store({ name }))
        .thenRefuses('INVALID_INPUT', /needs a name/);
    });

    it('refuses a name another entry has', () => {
      spec
        .given([])
        .when(store({ nameTaken: true }))
        .thenRefuses('CONFLICT', /password named "gitlab bot" already exists/);
    });
  });

  describe('ChangePassword', () => {
    it('replaces the secret, naming the copy it replaces', () => {
      spec
        .given([stored])
        .when(change({ fingerprint: '••••s2', secretId: 's2' }))
        .then([changedTo('s2', 's1')]);
    });

    it('names the latest copy as the previous one after several changes', () => {
      spec
        .given([stored, changedTo('s2', 's1')])
        .when(change({ fingerprint: '••••s3', secretId: 's3' }))
        .then([changedTo('s3', 's2')]);
    });

    it('describes the entry anew', () => {
      spec
        .given([stored])
        .when(change({ description: 'for acme and beta' }))
        .then([{ type: 'PasswordDescribed', data: { passwordId: 'p1', description: 'for acme and beta' } }]);
    });

    it('changes the secret and the description at once, secret first', () => {
      spec
        .given([stored])
        .when(change({ fingerprint: '••••s2', secretId: 's2', description: 'new' }))
        .then([changedTo('s2', 's1'), { type: 'PasswordDescribed', data: { passwordId: 'p1', description: 'new' } }]);
    });

    it.each<[string, PasswordEvent[], Parameters<typeof change>[0]]>([
      ['nothing is asked', [stored], {}],
      ['the description is the same', [stored], { description: 'for acme' }],
      [
        'the description is what it was last set to',
        [stored, { type: 'PasswordDescribed', data: { passwordId: 'p1', description: 'x' } }],
        { description: 'x' },
      ],
    ])('writes nothing when %s', (_case, history, data) => {
      spec.given(history).when(change(data)).then([]);
    });

    it.each([{ fingerprint: '••••s2' }, { secretId: 's2' }])('refuses half a new secret: %j', (data) => {
      spec
        .given([stored])
        .when(change(data))
        .thenRefuses('INVALID_INPUT', /both its fingerprint and its encrypted copy/);
    });
  });

  describe('DeletePassword', () => {
    it('deletes an entry nothing uses, naming its encrypted copy', () => {
      spec.given([stored]).when(remove()).then([deleted]);
    });

    it('deletes the current copy after a change', () => {
      spec
        .given([stored, changedTo('s2', 's1')])
        .when(remove())
        .then([{ type: 'PasswordDeleted', data: { passwordId: 'p1', secretId: 's2' } }]);
    });

    it('refuses while something uses the entry, naming every user', () => {
      spec
        .given([stored])
        .when(remove(['organization acme/web', 'credential bot2']))
        .thenRefuses('CONFLICT', /in use by organization acme\/web, credential bot2/);
    });
  });

  it.each<[string, PasswordEvent[], PasswordCommand]>([
    ['ChangePassword on an unknown entry', [], change({ description: 'x' })],
    ['ChangePassword on a deleted entry', [stored, deleted], change({ fingerprint: '••••s2', secretId: 's2' })],
    ['DeletePassword on an unknown entry', [], remove()],
    ['DeletePassword twice', [stored, deleted], remove()],
  ])('refuses %s', (_case, history, command) => {
    spec
      .given(history)
      .when(command)
      .thenRefuses('NOT_FOUND', /no password p1/);
  });

  describe('fingerprintOf', () => {
    it.each([
      ['', '••••'],
      ['short', '••••'],
      ['fifteen-chars!!', '••••'],
      ['sixteen-chars-ab', '••••s-ab'],
      ['fake-token-0123456789abcdefWXYZ', '••••WXYZ'],
    ])('shows %j as %j', (secret, expected) => {
      expect(fingerprintOf(secret)).toBe(expected);
    });

    it.each(['a', 'abcd', 'abcdefgh', 'fifteen-chars!!', 'sixteen-chars-ab', 'x'.repeat(64)])('never shows the whole of %j', (secret) => {
      const fingerprint = fingerprintOf(secret);
      expect(fingerprint).not.toContain(secret);
      expect(fingerprint.replace(/•/g, '').length).toBeLessThanOrEqual(4);
    });
  });
});
