// Password: an entry of the password manager. The secret itself never enters an event: events
// name the encrypted copy (secretId) kept outside the log, and show only a fingerprint.
import type { Decider } from './decider';
import { DomainError } from './errors';

export type PasswordEvent =
  | { type: 'PasswordStored'; data: { passwordId: string; name: string; description: string; fingerprint: string; secretId: string } }
  | { type: 'PasswordChanged'; data: { passwordId: string; fingerprint: string; secretId: string; previousSecretId: string } }
  | { type: 'PasswordDescribed'; data: { passwordId: string; description: string } }
  | { type: 'PasswordDeleted'; data: { passwordId: string; secretId: string } };

export type PasswordCommand =
  | { type: 'StorePassword'; data: { passwordId: string; name: string; description: string; fingerprint: string; secretId: string; nameTaken: boolean } }
  | { type: 'ChangePassword'; data: { passwordId: string; fingerprint?: string; secretId?: string; description?: string } }
  /** usedBy: what uses the entry now, described for a person ("organization acme/web"). */
  | { type: 'DeletePassword'; data: { passwordId: string; usedBy: string[] } };

export interface PasswordState {
  status: 'none' | 'stored' | 'deleted';
  secretId: string | null;
  description: string;
}

export const password: Decider<PasswordState, PasswordCommand, PasswordEvent> = {
  initialState: () => ({ status: 'none', secretId: null, description: '' }),
  evolve(state, event) {
    switch (event.type) {
      case 'PasswordStored':
        return { status: 'stored', secretId: event.data.secretId, description: event.data.description };
      case 'PasswordChanged':
        return { ...state, secretId: event.data.secretId };
      case 'PasswordDescribed':
        return { ...state, description: event.data.description };
      case 'PasswordDeleted':
        return { ...state, status: 'deleted', secretId: null };
    }
  },
  decide(command, state) {
    switch (command.type) {
      case 'StorePassword': {
        const { passwordId, name, description, fingerprint, secretId, nameTaken } = command.data;
        if (state.status !== 'none') throw new DomainError('CONFLICT', `password ${passwordId} already exists`);
        if (name.trim() === '') throw new DomainError('INVALID_INPUT', 'a password entry needs a name', 'name');
        if (nameTaken) throw new DomainError('CONFLICT', `a password named "${name}" already exists`, 'name');
        return [{ type: 'PasswordStored', data: { passwordId, name, description, fingerprint, secretId } }];
      }
      case 'ChangePassword': {
        const { passwordId, fingerprint, secretId, description } = command.data;
        const current = stored(state, passwordId);
        if (description !== undefined && typeof description !== 'string') throw new DomainError('INVALID_INPUT', 'description must be text', 'description');
        if ((fingerprint === undefined) !== (secretId === undefined)) {
          throw new DomainError('INVALID_INPUT', 'a new secret needs both its fingerprint and its encrypted copy');
        }
        const events: PasswordEvent[] = [];
        if (secretId !== undefined && fingerprint !== undefined) {
          events.push({ type: 'PasswordChanged', data: { passwordId, fingerprint, secretId, previousSecretId: current } });
        }
        if (description !== undefined && description !== state.description) {
          events.push({ type: 'PasswordDescribed', data: { passwordId, description } });
        }
        return events;
      }
      case 'DeletePassword': {
        const { passwordId, usedBy } = command.data;
        const secretId = stored(state, passwordId);
        if (usedBy.length > 0) throw new DomainError('CONFLICT', `password ${passwordId} is in use by ${usedBy.join(', ')}`);
        return [{ type: 'PasswordDeleted', data: { passwordId, secretId } }];
      }
    }
  },
};

function stored(state: PasswordState, passwordId: string): string {
  if (state.status !== 'stored' || state.secretId === null) throw new DomainError('NOT_FOUND', `no password ${passwordId}`);
  return state.secretId;
}

/** What may be shown of a secret: its last four characters, and only when that leaves most of it hidden. */
export function fingerprintOf(secret: string): string {
  return secret.length >= 16 ? `••••${secret.slice(-4)}` : '••••';
}

export const passwordStream = (passwordId: string) => `password-${passwordId}`;
