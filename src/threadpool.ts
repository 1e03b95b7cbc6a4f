// Imported first by main.ts: libuv reads UV_THREADPOOL_SIZE when its pool first starts, and
// every file the LOCAL handler reads or writes goes through that pool. Its default of 4
// threads queues a batch of 50 files behind one another; 16 is a better start for a server.
// An operator's own setting wins.
process.env.UV_THREADPOOL_SIZE ??= "16";
