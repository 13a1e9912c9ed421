import { Matches } from 'class-validator';
import { HIDDEN_CHARACTERS } from '../../core/echo';

const PLAIN = new RegExp(`^[^${HIDDEN_CHARACTERS}]*$`, 'u');

/** A name or login shown to people and sent to GitLab: no control characters, no bidirectional controls (core/echo.ts). */
export function PlainText(field: string): PropertyDecorator {
  return Matches(PLAIN, { message: `${field} must not contain control characters or bidirectional text controls` });
}
