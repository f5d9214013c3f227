-- Shared by the wrk scripts: one result line with throughput and percentiles.
function report(summary, latency)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.status + summary.errors.timeout
  io.write(string.format("result: %.0f requests/s, p50 %.1f ms, p95 %.1f ms, p99 %.1f ms, non-2xx or errors: %d\n",
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000, errors))
end
