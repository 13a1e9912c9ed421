import { randomUUID } from 'node:crypto';
import { InvalidArgumentError } from './errors';
import type {
  Direction,
  EventData,
  EventFilter,
  ExpectedRevision,
  JsonObject,
  JsonValue,
  ReadAllFrom,
  ReadAllOptions,
  ReadStreamFrom,
  ReadStreamOptions,
} from './types';

// Stream names are `<aggregate>-<id>`; '$' is kept for system streams, as in EventStoreDB.
const STREAM_NAME = /^[A-Za-z0-9][A-Za-z0-9_.:@+=-]{0,254}$/;
const EVENT_TYPE = /^[A-Za-z][A-Za-z0-9_.:-]{0,199}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** True for a name Backplane may give a stream; never for a system stream ('$') or one starting with '_'. */
export function isStreamName(stream: unknown): stream is string {
  return typeof stream === 'string' && STREAM_NAME.test(stream);
}

export function assertStreamName(stream: unknown): asserts stream is string {
  if (!isStreamName(stream)) {
    throw new InvalidArgumentError(
      `invalid stream name ${JSON.stringify(stream)}: use 1 to 255 letters, digits or _ . : @ + = -, starting with a letter or digit`,
    );
  }
}

export function assertExpectedRevision(expected: unknown): asserts expected is ExpectedRevision {
  if (expected === 'any' || expected === 'no_stream' || expected === 'stream_exists') return;
  assertRevision(expected, 'expected revision');
}

const MAX_REVISION = 2n ** 63n - 1n;

export function assertRevision(revision: unknown, what: string): asserts revision is bigint {
  if (typeof revision !== 'bigint' || revision < 0n || revision > MAX_REVISION) {
    throw new InvalidArgumentError(`${what} must be a non-negative bigint or one of the named values, got ${describe(revision)}`);
  }
}

export function assertReadStreamFrom(from: unknown): asserts from is ReadStreamFrom {
  if (from === 'start' || from === 'end') return;
  assertRevision(from, 'fromRevision');
}

export function assertDirection(direction: unknown): asserts direction is Direction {
  if (direction !== 'forwards' && direction !== 'backwards') {
    throw new InvalidArgumentError(`direction must be 'forwards' or 'backwards', got ${describe(direction)}`);
  }
}

export function assertMaxCount(maxCount: unknown, name = 'maxCount'): asserts maxCount is number {
  if (typeof maxCount !== 'number' || !Number.isSafeInteger(maxCount) || maxCount < 1) {
    throw new InvalidArgumentError(`${name} must be a positive integer, got ${describe(maxCount)}`);
  }
}

export function assertFilter(filter: EventFilter | undefined): void {
  if (filter === undefined) return;
  for (const type of filter.eventTypes ?? []) {
    if (typeof type !== 'string' || type.length === 0) throw new InvalidArgumentError('filter.eventTypes must be non-empty strings');
  }
  for (const prefix of filter.streamPrefixes ?? []) {
    if (typeof prefix !== 'string' || prefix.length === 0) throw new InvalidArgumentError('filter.streamPrefixes must be non-empty strings');
  }
}

/** A read's options checked, with their defaults. */
export interface ReadArgs<From> {
  forwards: boolean;
  from: From;
  maxCount?: number;
}

export function checkReadStream(stream: unknown, options: ReadStreamOptions): ReadArgs<ReadStreamFrom> {
  assertStreamName(stream);
  const direction = options.direction ?? 'forwards';
  assertDirection(direction);
  const from = options.fromRevision ?? (direction === 'forwards' ? 'start' : 'end');
  assertReadStreamFrom(from);
  if (options.maxCount !== undefined) assertMaxCount(options.maxCount);
  return { forwards: direction === 'forwards', from, maxCount: options.maxCount };
}

/** The position, when one is given, is the adapter's to check. */
export function checkReadAll(options: ReadAllOptions): ReadArgs<ReadAllFrom> {
  const direction = options.direction ?? 'forwards';
  assertDirection(direction);
  if (options.maxCount !== undefined) assertMaxCount(options.maxCount);
  assertFilter(options.filter);
  const forwards = direction === 'forwards';
  return { forwards, from: options.fromPosition ?? (forwards ? 'start' : 'end'), maxCount: options.maxCount };
}

/** A validated event, ready to be written: id set, metadata an object. */
export interface ValidEvent {
  id: string;
  type: string;
  data: JsonValue;
  metadata: JsonObject;
}

export function validateBatch(events: unknown): ValidEvent[] {
  if (!Array.isArray(events) || events.length === 0) {
    throw new InvalidArgumentError('an append needs a non-empty array of events');
  }
  const seen = new Set<string>();
  return events.map((event: EventData, index) => {
    const where = `event ${index}`;
    if (event === null || typeof event !== 'object') throw new InvalidArgumentError(`${where} is not an object`);
    const id = event.id ?? randomUUID();
    if (typeof id !== 'string' || !UUID.test(id)) throw new InvalidArgumentError(`${where}: id must be a uuid, got ${describe(id)}`);
    const lowerId = id.toLowerCase();
    if (seen.has(lowerId)) throw new InvalidArgumentError(`${where}: id ${id} appears twice in the batch`);
    seen.add(lowerId);
    if (typeof event.type !== 'string' || !EVENT_TYPE.test(event.type)) {
      throw new InvalidArgumentError(`${where}: invalid event type ${describe(event.type)}`);
    }
    assertJson(event.data, `${where}.data`);
    const metadata = event.metadata ?? {};
    if (!isPlainObject(metadata)) throw new InvalidArgumentError(`${where}.metadata must be a JSON object`);
    assertJson(metadata, `${where}.metadata`);
    return { id: lowerId, type: event.type, data: event.data, metadata };
  });
}

/** Refuses anything that would not come back from the store exactly as it went in. */
export function assertJson(value: unknown, path: string, ancestors: object[] = []): asserts value is JsonValue {
  switch (typeof value) {
    case 'string':
      if (value.includes('\u0000')) throw new InvalidArgumentError(`${path} contains a NUL character, which JSON storage refuses`);
      if (LONE_SURROGATE.test(value)) throw new InvalidArgumentError(`${path} contains an unpaired UTF-16 surrogate`);
      return;
    case 'boolean':
      return;
    case 'number':
      if (!Number.isFinite(value)) throw new InvalidArgumentError(`${path} is ${value}, which is not JSON`);
      return;
    case 'object': {
      if (value === null) return;
      if (ancestors.includes(value)) throw new InvalidArgumentError(`${path} is circular`);
      const inner = [...ancestors, value];
      if (Array.isArray(value)) {
        value.forEach((item, i) => {
          assertJson(item, `${path}[${i}]`, inner);
        });
        return;
      }
      if (!isPlainObject(value)) {
        throw new InvalidArgumentError(
          `${path} is a ${value.constructor?.name ?? 'non-plain object'}, not plain JSON (convert it first, e.g. a Date to an ISO string)`,
        );
      }
      for (const [key, item] of Object.entries(value)) {
        assertJson(key, `${path} key`, inner);
        assertJson(item, `${path}.${key}`, inner);
      }
      return;
    }
    default:
      throw new InvalidArgumentError(`${path} is ${describe(value)}, which is not JSON`);
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function describe(value: unknown): string {
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') return String(value);
  return typeof value;
}
