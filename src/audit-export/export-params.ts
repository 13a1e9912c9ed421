/** auditLog's filters (every one given must match); the same shape as the audit history's query. */
export interface ExportFilter {
  organizationId?: string;
  planId?: string;
  credentialId?: string;
  actorId?: string;
  types?: string[];
  from?: Date;
  to?: Date;
}

export const EXPORT_FORMATS = ['jsonl', 'csv', 'bundle'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/**
 * An export of whole digest periods, named by the digests' sequence numbers (the `cursor` and
 * `sequence` auditDigests shows): from the first named to the last, both included. One left out
 * means the tenant's first digest, or its newest when the export starts.
 */
export interface DigestBounds {
  fromDigest?: number;
  toDigest?: number;
}

export interface ExportRequest {
  format: ExportFormat;
  query: ExportFilter;
  /** Present when the export was asked by digest periods: then the query holds no filter. */
  digests?: DigestBounds;
}

/** A parameter the export refuses, named, with why (never quoting its value). */
export class ExportParamError extends Error {
  constructor(
    readonly param: string,
    message: string,
  ) {
    super(message);
  }
}

const ID_PARAMS = ['organizationId', 'planId', 'credentialId', 'actorId'] as const;
const DIGEST_PARAMS = ['fromDigest', 'toDigest'] as const;
const KNOWN = new Set(['format', 'from', 'to', 'types', ...ID_PARAMS, ...DIGEST_PARAMS]);
/** A digest's sequence number: the table keeps it as an integer. */
const SEQUENCE = /^[1-9][0-9]{0,8}$/;
const MAX_TYPES = 100;
const MAX_ID = 200;
const TYPE_NAME = /^[A-Za-z][A-Za-z0-9_.:-]{0,99}$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what is refused
const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * The first parameter of a raw query string whose percent-encoded bytes are not UTF-8 text, or
 * null: a parser reads such bytes as U+FFFD, and the filter would match nothing without a word.
 * The parameter is named as far as its name can be read ('query' where it cannot).
 */
export function paramNotUtf8(rawQuery: string): string | null {
  for (const part of rawQuery.split('&')) {
    const equals = part.indexOf('=');
    const name = decoded(equals === -1 ? part : part.slice(0, equals));
    if (name === null) return 'query';
    if (equals !== -1 && decoded(part.slice(equals + 1)) === null) return name === '' ? 'query' : name.slice(0, 64);
  }
  return null;
}

function decoded(text: string): string | null {
  try {
    return decodeURIComponent(text.replaceAll('+', ' '));
  } catch {
    return null;
  }
}

/**
 * The query string of GET /audit/export, with auditLog's filters and their meanings: ids match
 * exactly, `types` is a comma-separated list (or the parameter repeated), `from` is inclusive and
 * `to` exclusive, both ISO 8601 instants. Or `fromDigest` and `toDigest`, digests' sequence numbers:
 * their periods whole, by log position, so no filter may narrow them.
 */
export function parseExportParams(params: Record<string, unknown>): ExportRequest {
  for (const name of Object.keys(params)) {
    if (!KNOWN.has(name)) throw new ExportParamError(name.slice(0, 64), `unknown parameter: the export takes ${[...KNOWN].join(', ')}`);
  }
  const format = single(params, 'format') ?? 'jsonl';
  if (!(EXPORT_FORMATS as readonly string[]).includes(format)) throw new ExportParamError('format', `format must be one of ${EXPORT_FORMATS.join(', ')}`);
  const query: ExportFilter = {};
  for (const name of ID_PARAMS) {
    const value = single(params, name);
    if (value === undefined) continue;
    if (value === '' || value.length > MAX_ID || CONTROL.test(value)) {
      throw new ExportParamError(name, `${name} must be an id of 1 to ${MAX_ID} characters without control characters`);
    }
    query[name] = value;
  }
  const from = instant(params, 'from');
  const to = instant(params, 'to');
  if (from) query.from = from;
  if (to) query.to = to;
  if (from && to && from.getTime() >= to.getTime()) throw new ExportParamError('to', 'to must be later than from');
  const types = params.types;
  if (types !== undefined) {
    const given = (Array.isArray(types) ? types : [types]).map((value) => (typeof value === 'string' ? value : ''));
    const names = given.flatMap((value) => value.split(',')).map((name) => name.trim());
    if (names.length > MAX_TYPES) throw new ExportParamError('types', `types may name at most ${MAX_TYPES} event types`);
    if (names.some((name) => !TYPE_NAME.test(name)))
      throw new ExportParamError('types', 'types must be event type names, such as PlanCredentialToggled, separated by commas');
    query.types = [...new Set(names)];
  }
  const digests = digestBounds(params);
  if (digests === undefined) return { format: format as ExportFormat, query };
  // Periods are bounded by log position and counted whole: a filter would leave events out that their digests count.
  for (const name of ['from', 'to', 'types', ...ID_PARAMS] as const) {
    if (query[name] === undefined) continue;
    const why = name === 'from' || name === 'to' ? 'digest periods are bounded by log position, not by time' : 'an export of digest periods is unfiltered';
    throw new ExportParamError(name, `${name} cannot be combined with fromDigest or toDigest: ${why}`);
  }
  return { format: format as ExportFormat, query, digests };
}

function digestBounds(params: Record<string, unknown>): DigestBounds | undefined {
  const bounds: DigestBounds = {};
  for (const name of DIGEST_PARAMS) {
    const value = single(params, name);
    if (value === undefined) continue;
    if (!SEQUENCE.test(value)) {
      throw new ExportParamError(name, `${name} must be a digest's sequence number, a whole number from 1 (its cursor in auditDigests)`);
    }
    bounds[name] = Number(value);
  }
  if (bounds.fromDigest === undefined && bounds.toDigest === undefined) return undefined;
  if (bounds.fromDigest !== undefined && bounds.toDigest !== undefined && bounds.toDigest < bounds.fromDigest) {
    throw new ExportParamError('toDigest', 'toDigest must not come before fromDigest');
  }
  return bounds;
}

/** A parameter given at most once, as text. */
function single(params: Record<string, unknown>, name: string): string | undefined {
  const value = params[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new ExportParamError(name, `${name} may be given once`);
  if (value.includes('\u0000')) throw new ExportParamError(name, `${name} may not hold a NUL character`);
  return value;
}

const ISO_INSTANT = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2})$/i;
const FIRST = Date.parse('0001-01-01T00:00:00Z');
const LAST = Date.parse('9999-12-31T23:59:59.999Z');

/** An ISO 8601 instant with its offset, as the API's DateTime takes it: a day that exists, in the years 1 to 9999. */
function instant(params: Record<string, unknown>, name: string): Date | undefined {
  const value = single(params, name);
  if (value === undefined) return undefined;
  const match = ISO_INSTANT.exec(value);
  const time = match ? Date.parse(value) : Number.NaN;
  // Date.parse rolls 30 February over into March: the day must be the one written.
  const day = new Date(0);
  if (match) day.setUTCFullYear(Number(match[1]), Number(match[2]) - 1, Number(match[3]));
  const real = match !== null && day.getUTCDate() === Number(match[3]) && Number(match[4]) < 24 && Number(match[5]) < 60 && Number(match[6] ?? 0) < 60;
  if (!real || !(time >= FIRST && time <= LAST)) {
    throw new ExportParamError(name, `${name} must be an ISO 8601 instant from 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999Z, such as 2026-01-31T00:00:00Z`);
  }
  return new Date(time);
}
