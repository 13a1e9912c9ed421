import { createClient, type Client } from 'graphql-ws';

/** The console is a client of the public API at /graphql, like any other: it has no endpoint of its own. */
const ENDPOINT = '/graphql';
/** sessionStorage: this tab only, gone when it closes; never localStorage, never a URL. */
const TOKEN_KEY = 'backplane.console.token';

export type Role = 'ADMIN' | 'OPERATOR' | 'AUDITOR' | 'VIEWER';

export interface Principal {
  id: string;
  name: string;
  role: Role;
  tenant: { name: string };
}

/** What a role may do in the console; the API enforces the same, this only keeps buttons that would fail out of sight. */
export const mayEdit = (role: Role) => role === 'ADMIN' || role === 'OPERATOR';
export const mayAudit = (role: Role) => role === 'ADMIN' || role === 'AUDITOR';

export class ApiError extends Error {
  constructor(
    message: string,
    readonly code: string,
    /** Per-field messages of a BAD_USER_INPUT, keyed by the input's field path ("repositoriesSync.intervalMinutes"). */
    readonly fields: Record<string, string[]> = {},
  ) {
    super(message);
  }
}

export const savedToken = () => sessionStorage.getItem(TOKEN_KEY);
export const saveToken = (token: string) => sessionStorage.setItem(TOKEN_KEY, token);
export const forgetToken = () => sessionStorage.removeItem(TOKEN_KEY);

interface Answer<T> {
  data?: T | null;
  errors?: { message: string; extensions?: { code?: string; fields?: Record<string, string[]>; field?: string } }[];
}

/** Per-field messages of a refusal: class-validator's name theirs in `fields`, a resolver's own refusal its one field in `field`. */
const fieldsOf = (error: NonNullable<Answer<unknown>['errors']>[number]): Record<string, string[]> =>
  error.extensions?.fields ?? (typeof error.extensions?.field === 'string' ? { [error.extensions.field]: [error.message] } : {});

export async function request<T>(token: string, query: string, variables?: Record<string, unknown>): Promise<T> {
  let response: Response;
  try {
    response = await fetch(ENDPOINT, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
      body: JSON.stringify({ query, variables }),
      credentials: 'omit',
      cache: 'no-store',
    });
  } catch {
    throw new ApiError('Backplane did not answer: check the connection and try again.', 'NETWORK');
  }
  let answer: Answer<T>;
  try {
    answer = (await response.json()) as Answer<T>;
  } catch {
    throw new ApiError(`Backplane answered ${response.status} without a GraphQL result.`, 'NETWORK');
  }
  const error = answer.errors?.[0];
  if (error) throw new ApiError(error.message, error.extensions?.code ?? 'INTERNAL_SERVER_ERROR', fieldsOf(error));
  if (!answer.data) throw new ApiError('Backplane answered without data.', 'INTERNAL_SERVER_ERROR');
  return answer.data;
}

/**
 * One graphql-ws connection per signed-in tab, with the token in connection_init. Its own retries
 * subscribe again with the variables first given: a feed that resumes from the last cursor it
 * received asks for none (`retryAttempts: 0`) and subscribes again itself.
 */
export function socket(token: string, retryAttempts = 3): Client {
  const url = `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}${ENDPOINT}`;
  return createClient({ url, connectionParams: { authorization: `Bearer ${token}` }, lazy: true, retryAttempts });
}

/**
 * Field messages of a refusal, keyed by the form's field names. Checks on the input's shape name
 * their field in extensions.fields; the domain's rules name it as the first word of the message
 * ("gitlabUrl must use https"), which is read only when it is one of the form's own fields.
 */
export function fieldErrors(error: unknown, known: readonly string[]): { fields: Record<string, string>; rest?: string } {
  if (!(error instanceof ApiError)) return { fields: {}, rest: error instanceof Error ? error.message : String(error) };
  const fields: Record<string, string> = {};
  for (const [path, messages] of Object.entries(error.fields)) {
    const name = path.replace(/^input\./, '');
    const field = known.find((candidate) => name === candidate || name.startsWith(`${candidate}.`));
    if (field) fields[field] = messages.join('; ');
  }
  if (error.code === 'BAD_USER_INPUT' && Object.keys(fields).length === 0) {
    const named = /^(?:invalid input: )?([A-Za-z]+)(?:\.[A-Za-z]+)?\b/.exec(error.message)?.[1];
    if (named && known.includes(named)) fields[named] = error.message;
  }
  return Object.keys(fields).length > 0 ? { fields } : { fields, rest: error.message };
}

export function describeError(error: unknown): string {
  if (error instanceof ApiError && error.code === 'CONFLICT' && /version|expected/i.test(error.message)) {
    return 'Someone else saved this first. Reload to see their changes, then make yours again.';
  }
  return error instanceof Error ? error.message : String(error);
}

export interface Download {
  blob: Blob;
  /** The name the server gives it (Content-Disposition), else the fallback. */
  name: string;
}

/**
 * A file of the API's (GET path) with the token in the Authorization header, read into a blob:
 * the token never goes into a URL, so no link may fetch it. A refusal throws the API's own message.
 */
export async function download(token: string, path: string, fallbackName: string): Promise<Download> {
  let response: Response;
  try {
    response = await fetch(path, { headers: { Authorization: `Bearer ${token}` }, credentials: 'omit', cache: 'no-store' });
  } catch {
    throw new ApiError('Backplane did not answer: check the connection and try again.', 'NETWORK');
  }
  if (!response.ok) {
    const answer = (await response.json().catch(() => ({}))) as Answer<unknown>;
    const error = answer.errors?.[0];
    throw new ApiError(
      error?.message ?? `Backplane answered ${response.status}.`,
      error?.extensions?.code ?? 'INTERNAL_SERVER_ERROR',
      error?.extensions?.fields ?? {},
    );
  }
  let blob: Blob;
  try {
    blob = await response.blob();
  } catch {
    // The headers went out before the body: a server that fails then can only cut the connection.
    throw new ApiError('The download was cut short: try again.', 'NETWORK');
  }
  const name = /filename="([^"]+)"/.exec(response.headers.get('content-disposition') ?? '')?.[1] ?? fallbackName;
  return { blob, name };
}
