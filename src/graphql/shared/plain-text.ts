import { Matches } from 'class-validator';

/**
 * What makes a name or a login read as something other than it is: control characters (C0, DEL,
 * C1: new lines, terminal escapes) and the bidirectional marks, embeddings, overrides and
 * isolates that reorder what follows them ("bot\u202Egpj.exe" shows as "botexe.jpg").
 */
const HIDDEN = '\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069';
const PLAIN = new RegExp(`^[^${HIDDEN}]*$`, 'u');

/** A name or login shown to people and sent to GitLab: no control characters, no bidirectional controls. */
export function PlainText(field: string): PropertyDecorator {
  return Matches(PLAIN, { message: `${field} must not contain control characters or bidirectional text controls` });
}
