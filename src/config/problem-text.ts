/**
 * Text helpers for problem messages. A problem is printed as ONE line `FILE:LINE path: message`,
 * so user-supplied text in it must not break the line (newlines, U+2028/U+2029, which
 * JSON.stringify leaves raw) and a path must stay one word.
 */

const BREAKS = /[\n\r\v\f\u0085\u2028\u2029]/g;

const escape = (c: string): string => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

/** A message with every line break escaped. */
export function oneLine(text: string): string {
  return text.replace(BREAKS, escape);
}

/** What the user wrote, quoted, shortened and on one line. */
export function quote(value: unknown): string {
  const text = String(value);
  return oneLine(JSON.stringify(text.length > 80 ? `${text.slice(0, 77)}...` : text));
}

/** A user-supplied name as one word for paths: quoted, with whitespace escaped, unless plain. */
export function word(name: string, plain: RegExp = /^[\w.[\]-]+$/): string {
  return plain.test(name) ? name : JSON.stringify(name).replace(/\s/g, escape);
}
