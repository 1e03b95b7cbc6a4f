export {};
//# sourceMappingURL=State.js.map