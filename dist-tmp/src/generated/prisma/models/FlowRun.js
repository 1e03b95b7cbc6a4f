export {};
//# sourceMappingURL=FlowRun.js.map