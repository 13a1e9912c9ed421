/**
 * What makes a text read as something other than it is: control characters (C0, DEL, C1: new
 * lines, terminal escapes) and the bidirectional marks, embeddings, overrides and isolates that
 * reorder what follows them ("bot\u202Egpj.exe" shows as "botexe.jpg"). A character class body.
 */
export const HIDDEN_CHARACTERS = '\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069';

const HIDDEN = new RegExp(`[${HIDDEN_CHARACTERS}]`, 'gu');

/**
 * A value quoted back in a message or a record: what a caller or a foreign server sent is cut
 * short and loses its hidden characters, so an answer cannot be made to carry a megabyte or a
 * terminal escape.
 */
export function echoed(value: string, max = 64): string {
  const plain = value.replace(HIDDEN, '?');
  return plain.length > max ? `${plain.slice(0, max)}…` : plain;
}
