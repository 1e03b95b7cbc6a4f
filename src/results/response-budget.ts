import { ErrorCode, HandledError } from "../errors.js";

/** How much one response may read from storage. */
export interface ResponseBudgetLimits {
  /** Total bytes of values and previews. */
  maxBytes: number;
  /** Values and previews. */
  maxValues: number;
}

/**
 * What one request may still read from storage. Every value and preview reserves its size
 * (known from the database, or asked of storage) before anything is read, so however a
 * document aliases and nests its fields, a response holds at most `maxBytes` of stored data
 * and the server's memory for it stays bounded. Past the budget, a field fails with
 * RESPONSE_TOO_LARGE and the rest of the response still answers.
 */
export class ResponseBudget {
  private bytesLeft: number;
  private valuesLeft: number;

  constructor(private readonly limits: ResponseBudgetLimits) {
    this.bytesLeft = limits.maxBytes;
    this.valuesLeft = limits.maxValues;
  }

  /** Takes `bytes` from the budget for one value or preview; throws RESPONSE_TOO_LARGE past it. */
  reserve(bytes: number): void {
    if (this.valuesLeft <= 0) {
      throw new HandledError(
        ErrorCode.RESPONSE_TOO_LARGE,
        `This request already reads ${this.limits.maxValues} values and previews, as many as one response may hold (HANDLED_MAX_RESPONSE_VALUES); ask for fewer.`,
      );
    }
    if (bytes > this.bytesLeft) {
      throw new HandledError(
        ErrorCode.RESPONSE_TOO_LARGE,
        `This value is ${bytes} bytes and the response has room for ${this.bytesLeft} more of its ${this.limits.maxBytes} (HANDLED_MAX_RESPONSE_BYTES); ask for fewer values, or for a preview.`,
      );
    }
    this.valuesLeft -= 1;
    this.bytesLeft -= bytes;
  }
}
