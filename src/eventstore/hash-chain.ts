import * as crypto from 'node:crypto';
import { canonicalContentBytes } from './canonical-bytes';
import { canonicalJson, canonicalJsonOfText } from './canonical-json';
import type { JsonValue } from './types';

export { canonicalJson } from './canonical-json';

/** The hash that stands before the first event of every stream. */
export const GENESIS_HASH = '0'.repeat(64);

/** crypto.hash (Node 20.12) hashes a string in one call, without a Hash object; older Node makes one. */
const sha256Hex: (text: string | Uint8Array) => string =
  typeof crypto.hash === 'function' ? (text) => crypto.hash('sha256', text, 'hex') : (text) => crypto.createHash('sha256').update(text).digest('hex');

/** SHA-256 over what the writer chose: id, type, data and metadata. */
export function contentHash(event: { id: string; type: string; data: JsonValue; metadata: JsonValue }): string {
  return sha256Hex(canonicalJson({ id: event.id, type: event.type, data: event.data, metadata: event.metadata }));
}

/**
 * contentHash of an event whose data and metadata are given as JSON text (PostgreSQL's jsonb
 * printed): the same hash as of the values that text parses to, without parsing it.
 */
export function contentHashOfText(event: { id: string; type: string; dataText: string; metadataText: string }): string {
  // Made as bytes where it can be (see canonical-bytes.ts), as strings where it cannot.
  const bytes = canonicalContentBytes(event);
  if (bytes !== null) return sha256Hex(bytes);
  // canonicalJson's order of the four keys: data, id, metadata, type.
  return sha256Hex(
    `{"data":${canonicalJsonOfText(event.dataText)},"id":${JSON.stringify(event.id)},"metadata":${canonicalJsonOfText(event.metadataText)},"type":${JSON.stringify(event.type)}}`,
  );
}

/**
 * Links an event to the one before it in its stream and to its place there.
 * The PostgreSQL adapter computes the same function in SQL (see postgres/schema.ts).
 */
export function chainHash(previousHash: string, stream: string, revision: bigint, content: string): string {
  return sha256Hex(`${previousHash}|${stream}|${revision}|${content}`);
}
