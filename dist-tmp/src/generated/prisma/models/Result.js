export {};
//# sourceMappingURL=Result.js.map