-- The unknown-keys section of bench/run (issue 12): a flood of requests, each with a new, well-formed, made-up key
-- (TG_FLOOD=random), or with the tenant's own valid key (TG_FLOOD=valid). Both modes build the random key, so the
-- client spends the same on each request and the two floods differ only in what the server has to decide.
local mode = os.getenv("TG_FLOOD") or "random"
local valid = os.getenv("TG_API_KEY")
local alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
local chars = {}
for i = 1, #alphabet do chars[i] = alphabet:sub(i, i) end
local parts = {}
math.randomseed(os.time())

function request()
  for i = 1, 32 do parts[i] = chars[math.random(64)] end
  local made_up = "tg_" .. table.concat(parts)
  local key = mode == "valid" and valid or made_up
  return wrk.format(nil, nil, { ["X-API-KEY"] = key })
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRK requests=%d seconds=%.3f rps=%.1f p50_us=%d p99_us=%d max_us=%d non2xx=%d connect=%d read=%d write=%d timeout=%d\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(99), latency.max,
    e.status, e.connect, e.read, e.write, e.timeout))
end
