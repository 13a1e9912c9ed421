import { randomUUID } from 'node:crypto';
import { DomainError } from '../core/errors';
import { verification, verificationStream, type TokenCheck, type VerificationEvent } from '../domain/verification';
import { deviceById, passwordSecretId } from '../queries/catalog';
import { execute, type AppDeps, type Request } from './deps';
import type { GitLabSession, SessionOptions } from './gitlab-port';

/** Where a token is checked or used: an organization's GitLab and group, through its default device. */
export interface TokenTarget {
  tenantId: string;
  deviceId: string;
  gitlabUrl: string;
  groupPath: string;
  login: string;
  passwordId: string;
}

/** The secret of a password entry, for one call to GitLab. */
export async function revealPassword(deps: AppDeps, tenantId: string, passwordId: string): Promise<string> {
  const secretId = await passwordSecretId(deps.db, tenantId, passwordId);
  if (secretId === null) throw new DomainError('NOT_FOUND', `no password ${passwordId}`);
  return deps.vault.reveal(tenantId, secretId);
}

/**
 * Asks GitLab about the token through the organization's default device. The server itself is
 * the built-in device "local"; another device would have to do it, and none runs work yet.
 */
export async function checkToken(deps: AppDeps, target: TokenTarget): Promise<TokenCheck> {
  const device = await deviceById(deps.db, target.tenantId, target.deviceId);
  if (device === null) throw new DomainError('NOT_FOUND', `no device ${target.deviceId}`);
  if (!device.builtIn) {
    return { ok: false, failure: 'DEVICE_UNAVAILABLE', reason: `device ${device.name} is not connected: make the built-in device local the default device to reach GitLab from the server` };
  }
  const token = await revealPassword(deps, target.tenantId, target.passwordId);
  return deps.gitlab.checkToken({ gitlabUrl: target.gitlabUrl, token, login: target.login, groupPath: target.groupPath });
}

/** A session with GitLab as the target's login, its token read from the password manager. */
export async function sessionFor(deps: AppDeps, target: Omit<TokenTarget, 'login' | 'groupPath' | 'deviceId'>, options?: SessionOptions): Promise<GitLabSession> {
  const token = await revealPassword(deps, target.tenantId, target.passwordId);
  return deps.gitlab.session({ gitlabUrl: target.gitlabUrl, token }, options);
}

/**
 * A verification that failed creates nothing, yet the attempt (who, what, GitLab's answer) is
 * recorded; then the caller hears GITLAB_AUTH_FAILED with the reason.
 */
export async function refuseUnverified(deps: AppDeps, request: Request, check: Extract<TokenCheck, { ok: false }>, attempt: Omit<VerificationEvent['data'], 'attemptId' | 'failure' | 'reason'>): Promise<never> {
  const attemptId = randomUUID();
  await execute(deps, request, verification, verificationStream(attemptId), {
    type: 'RecordFailedVerification',
    data: { attemptId, ...attempt, failure: check.failure, reason: check.reason },
  });
  throw new DomainError('GITLAB_AUTH_FAILED', check.reason);
}
