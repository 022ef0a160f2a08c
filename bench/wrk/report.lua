-- Used by every wrk run of bench/: sends the tenant key (TG_API_KEY) or the admin session cookie (TG_COOKIE)
-- given in the environment, and ends with one machine-readable line that bench/lib.sh parses.
-- TG_DELAY_MS > 0 makes each connection pause that long before each request, which turns wrk's closed loop into
-- an offered load of about connections / (pause + latency) requests a second: the same load for both servers.
-- Without it only done() is defined, so wrk never calls into Lua per request.
local key = os.getenv("TG_API_KEY")
if key ~= nil and key ~= "" then
  wrk.headers["X-API-KEY"] = key
end

local cookie = os.getenv("TG_COOKIE")
if cookie ~= nil and cookie ~= "" then
  wrk.headers["Cookie"] = cookie
end

local pause = tonumber(os.getenv("TG_DELAY_MS") or "0") or 0
if pause > 0 then
  function delay()
    return pause
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRK requests=%d seconds=%.3f rps=%.1f p50_us=%d p99_us=%d max_us=%d non2xx=%d connect=%d read=%d write=%d timeout=%d\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(99), latency.max,
    e.status, e.connect, e.read, e.write, e.timeout))
end
