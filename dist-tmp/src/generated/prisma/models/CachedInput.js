export {};
//# sourceMappingURL=CachedInput.js.map