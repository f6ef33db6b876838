/**
 * Imported first by the simulator's entry points: every simulated device writes its state files
 * with fsync, as a real device does on its own flash. In one process they share libuv's thread
 * pool (4 threads by default), so hundreds of devices starting a download at once would queue
 * behind each other's fsyncs, a delay no real fleet has. A larger pool removes most of it. Set
 * before the pool is first used (it is created lazily).
 */
process.env['UV_THREADPOOL_SIZE'] ??= '64';
