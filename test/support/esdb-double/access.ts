/**
 * Part of a test double of EventStoreDB's gRPC Streams service: who may do what, as EventStoreDB
 * 23.10 decides it with its default access control lists, and which node may take a write.
 *
 * - Users and passwords come in an `authorization: Basic` header; a call without one is anonymous.
 *   The client sends none over `tls=false`, so against an insecure node every call is anonymous.
 * - Only members of $admins may read $all (reads and subscriptions); user streams are open to all.
 *   A refused call ends with PermissionDenied "Access Denied", as EventStoreDB's AccessDenied does.
 * - A node that is not the leader refuses writes, and reads that require the leader, with
 *   NotFound "Leader info available" naming the leader's endpoint (EventStoreDB's LeaderInfo).
 */
import { status, type Metadata, type ServiceError } from '@grpc/grpc-js';
import { serverError } from './messages';

export interface User {
  password: string;
  admin: boolean;
}

export interface AccessRules {
  /** When given, access control is in force with these users; otherwise every call may do anything. */
  users?: Record<string, User>;
  /** When given, this node is a follower and the leader is there. */
  leader?: { host: string; port: number };
}

function isAdmin(rules: AccessRules, metadata: Metadata): boolean {
  if (!rules.users) return true;
  const [header] = metadata.get('authorization');
  const match = typeof header === 'string' ? /^Basic (.+)$/.exec(header) : null;
  if (!match) return false;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const split = decoded.indexOf(':');
  const user = rules.users[decoded.slice(0, split)];
  return user !== undefined && user.password === decoded.slice(split + 1) && user.admin;
}

/** The refusal for a read of $all, or undefined when the caller may read it. */
export function readAllRefusal(rules: AccessRules, metadata: Metadata): Partial<ServiceError> | undefined {
  return isAdmin(rules, metadata) ? undefined : serverError(status.PERMISSION_DENIED, 'Access Denied', { exception: 'access-denied' });
}

/** The refusal of a follower for a write, or for a read that requires the leader. */
export function leaderRefusal(rules: AccessRules, metadata: Metadata, write: boolean): Partial<ServiceError> | undefined {
  if (!rules.leader || !(write || metadata.get('requires-leader')[0] === 'true')) return undefined;
  return serverError(status.NOT_FOUND, 'Leader info available', {
    exception: 'not-leader',
    'leader-endpoint-host': rules.leader.host,
    'leader-endpoint-port': String(rules.leader.port),
  });
}
