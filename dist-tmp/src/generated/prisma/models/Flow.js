export {};
//# sourceMappingURL=Flow.js.map