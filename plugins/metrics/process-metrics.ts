/**
 * Process metrics under the names Prometheus client libraries use (process_*, nodejs_*): CPU,
 * resident memory, heap, open file descriptors, and event-loop delay from perf_hooks'
 * monitorEventLoopDelay (reset at each scrape, so the figures cover the time since the last one).
 */
import { readdirSync } from 'node:fs';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { ExpositionWriter } from './prometheus-format.js';

const NS_PER_S = 1e9;

export class ProcessMetrics {
  private readonly loop: IntervalHistogram;

  constructor(private readonly resolutionMs = 10) {
    this.loop = monitorEventLoopDelay({ resolution: resolutionMs });
    this.loop.enable();
  }

  write(w: ExpositionWriter): void {
    const cpu = process.cpuUsage();
    const mem = process.memoryUsage();
    w.single('process_cpu_user_seconds_total', 'counter', 'User CPU time spent, in seconds.', cpu.user / 1e6);
    w.single('process_cpu_system_seconds_total', 'counter', 'System CPU time spent, in seconds.', cpu.system / 1e6);
    w.single('process_cpu_seconds_total', 'counter', 'Total user and system CPU time spent, in seconds.', (cpu.user + cpu.system) / 1e6);
    w.single('process_start_time_seconds', 'gauge', 'Start time of the process since the Unix epoch, in seconds.', Math.round(Date.now() / 1000 - process.uptime()));
    w.single('process_uptime_seconds', 'gauge', 'Time since the process started, in seconds.', process.uptime());
    w.single('process_resident_memory_bytes', 'gauge', 'Resident memory size, in bytes.', mem.rss);
    const fds = openFds();
    if (fds !== undefined) w.single('process_open_fds', 'gauge', 'Open file descriptors.', fds);
    w.single('nodejs_heap_size_total_bytes', 'gauge', 'V8 heap size, in bytes.', mem.heapTotal);
    w.single('nodejs_heap_size_used_bytes', 'gauge', 'V8 heap used, in bytes.', mem.heapUsed);
    w.single('nodejs_external_memory_bytes', 'gauge', 'Memory of C++ objects bound to JavaScript objects (Buffers among them), in bytes.', mem.external);
    w.single('nodejs_array_buffers_bytes', 'gauge', 'Memory of ArrayBuffers and Buffers, in bytes.', mem.arrayBuffers);

    // The histogram records whole timer intervals; the lag is what exceeds the resolution.
    const h = this.loop;
    const lag = (ns: number) => (h.count > 0 ? Math.max(0, ns / NS_PER_S - this.resolutionMs / 1000) : 0);
    const help = 'Event loop delay since the previous scrape, in seconds';
    w.single('nodejs_eventloop_lag_mean_seconds', 'gauge', `${help}: mean.`, lag(h.mean));
    w.single('nodejs_eventloop_lag_p50_seconds', 'gauge', `${help}: median.`, lag(h.percentile(50)));
    w.single('nodejs_eventloop_lag_p99_seconds', 'gauge', `${help}: 99th percentile.`, lag(h.percentile(99)));
    w.single('nodejs_eventloop_lag_max_seconds', 'gauge', `${help}: maximum.`, lag(h.max));
    h.reset();
  }

  close(): void {
    this.loop.disable();
  }
}

/** Open file descriptors (Linux /proc), or undefined where that is not available. */
function openFds(): number | undefined {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return undefined;
  }
}
