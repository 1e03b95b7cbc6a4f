export {};
//# sourceMappingURL=TaskRun.js.map