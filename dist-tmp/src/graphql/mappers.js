export const NO_RESULT = { noResult: true };
//# sourceMappingURL=mappers.js.map