// Imported first by main.ts: libuv reads UV_THREADPOOL_SIZE when its pool first starts. The
// LOCAL handler's larger files (and every file with HANDLED_LOCAL_FILE_WORKERS=0) go through
// that pool, where its default of 4 threads would queue a batch's files behind one another; 16
// is a better start for a server. An operator's own setting wins.
process.env.UV_THREADPOOL_SIZE ??= "16";
