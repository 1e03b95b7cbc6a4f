import { ErrorCode, HandledError } from "./errors.js";

// In a `u` regular expression a well-formed surrogate pair is one code point, so only lone
// surrogates are of the category Cs.
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * Checks a piece of text a client sends (a name, a message, a handle): PostgreSQL cannot store
 * NUL, a lone surrogate would be stored as U+FFFD (a silent change), and an unbounded length
 * would reach indexes and logs. Throws BAD_USER_INPUT naming `what` and the rule broken.
 */
export function checkText(text: string, what: string, maxLength: number): string {
  if (text.length > maxLength) {
    throw new HandledError(
      ErrorCode.BAD_USER_INPUT,
      `${what} may be at most ${maxLength} characters; this one has ${text.length}.`,
    );
  }
  if (text.includes("\u0000"))
    throw new HandledError(ErrorCode.BAD_USER_INPUT, `${what} may not contain the NUL character.`);
  if (LONE_SURROGATE.test(text)) {
    throw new HandledError(ErrorCode.BAD_USER_INPUT, `${what} is not valid Unicode (it holds a lone surrogate).`);
  }
  return text;
}

/**
 * Checks that a JSON value nests objects and arrays at most `maxDepth` deep, without recursion
 * (a value 20,000 deep would overflow the stack of anything recursive, JSON.stringify
 * included). Throws BAD_USER_INPUT past the limit.
 */
export function checkJsonDepth(value: unknown, maxDepth: number): void {
  if (typeof value !== "object" || value === null) return;
  const pending: [object, number][] = [[value, 1]];
  while (pending.length > 0) {
    const [node, depth] = pending.pop()!;
    if (depth > maxDepth) throw tooDeep(maxDepth);
    const children = Array.isArray(node) ? node : Object.values(node);
    for (const child of children) {
      if (typeof child === "object" && child !== null) pending.push([child, depth + 1]);
    }
  }
}

/** The refusal of a value nesting objects and arrays deeper than `maxDepth`: BAD_USER_INPUT. */
export function tooDeep(maxDepth: number): HandledError {
  return new HandledError(
    ErrorCode.BAD_USER_INPUT,
    `The value nests objects and arrays deeper than ${maxDepth} levels.`,
  );
}
