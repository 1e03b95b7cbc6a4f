export {};
//# sourceMappingURL=result-handler.js.map