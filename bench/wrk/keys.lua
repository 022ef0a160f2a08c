-- The scale section of bench/run (issue 17): every request presents one of the keys 1..TG_KEYS that
-- `Tollgate.Benchmarks keys` wrote, chosen uniformly at random (the same formula as KeysRun.Key).
local count = tonumber(os.getenv("TG_KEYS") or "1000")
math.randomseed(os.time() + math.floor(os.clock() * 1000000))

function request()
  return wrk.format(nil, nil, { ["X-API-KEY"] = string.format("tg_bench%027d", math.random(count)) })
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRK requests=%d seconds=%.3f rps=%.1f p50_us=%d p99_us=%d max_us=%d non2xx=%d connect=%d read=%d write=%d timeout=%d\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(99), latency.max,
    e.status, e.connect, e.read, e.write, e.timeout))
end
