// JSON values of every shape, for checking a writer of JSON against JSON.stringify.

// Every kind of character JSON treats apart: escapes, control characters, multi-byte UTF-8,
// surrogate pairs, lone surrogates (which JSON.stringify writes as \u escapes), and U+2028.
export const CHARACTERS = [
  "a",
  '"',
  "\\",
  "\n",
  "\u0000",
  "\u001f",
  "\u007f",
  "é",
  "€",
  "😀",
  "\ud800",
  "\udc00",
  "\u2028",
  "/",
];
const NUMBERS = [0, -0, 1.5, 1e21, 1e-7, -123456789012345, Number.MAX_VALUE, 5e-324, 0.1 + 0.2];

/** A deterministic generator of JSON values of every shape. */
export function* jsonValues(seed: number, count: number): Generator<unknown> {
  let state = seed;
  const next = (n: number) => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state % n;
  };
  const make = (depth: number): unknown => {
    switch (next(depth > 4 ? 5 : 7)) {
      case 0:
        return Array.from({ length: next(6) }, () => CHARACTERS[next(CHARACTERS.length)]).join("");
      case 1:
        return NUMBERS[next(NUMBERS.length)];
      case 2:
        return [true, false, null][next(3)];
      case 3:
        return "x".repeat(next(100));
      case 4:
        return Array.from({ length: next(6) }, () => make(depth + 1));
      default: {
        const object: Record<string, unknown> = {};
        for (let i = next(6); i > 0; i--) {
          object[[String(make(9)), String(next(20)), "toJSON", "__proto__x"][next(4)]!] = make(depth + 1);
        }
        return object;
      }
    }
  };
  for (let i = 0; i < count; i++) yield make(0);
}
