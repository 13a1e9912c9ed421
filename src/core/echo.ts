/**
 * A value quoted back in a message or a record: what a caller or a foreign server sent is cut
 * short and loses its control characters, so an answer cannot be made to carry a megabyte or a
 * terminal escape.
 */
export function echoed(value: string, max = 64): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the C0 and C1 control characters are exactly what is replaced
  const plain = value.replace(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/gu, '?');
  return plain.length > max ? `${plain.slice(0, max)}…` : plain;
}
