-- wrk script for bench/webhook_ingest.py: a fixed number of signed Jira webhooks.
--
-- Usage: wrk -t T -c C -d CAP -s bench/webhooks.lua URL -- BODY_FILE JWT_FILE PREFIX TOTAL T
--
-- Every request is `POST <URL path>` with the body read from BODY_FILE (sent as-is), an
-- `Authorization: JWT <token>` header read from JWT_FILE and a unique
-- X-Atlassian-Webhook-Identifier `PREFIX-<thread>-<n>`. Thread k of T sends its share of
-- TOTAL webhooks; then its connections wait (delay) instead of sending more, and once every
-- webhook it sent has been answered it stops, so no connection is cut with a webhook in
-- flight. Only a connection still waiting after IDLE_MS sends a `GET /healthz` probe.
-- A finished thread prints `WRK_THREAD_DONE <k>`: wrk's main thread sleeps for the whole
-- -d CAP, so the caller sends wrk SIGINT once every thread is done; CAP only bounds a run
-- that cannot finish (errors, timeouts).
--
-- done() prints one line `WRK_RESULT {json}` with the status counts of the webhooks,
-- the probes, wrk's error counters, latency percentiles in microseconds and the run's
-- duration from the first thread's start to the last thread's last answer (monotonic clock).

local ffi = require("ffi")
ffi.cdef([[
  typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
  int clock_gettime(int clock_id, bench_timespec *tp);
]])
local CLOCK_MONOTONIC = 1
local now_ts = ffi.new("bench_timespec")

local function now_us()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, now_ts)
  return tonumber(now_ts.tv_sec) * 1000000 + math.floor(tonumber(now_ts.tv_nsec) / 1000)
end

local threads = {}
local thread_count = 0

function setup(thread)
  thread_count = thread_count + 1
  thread:set("id", thread_count)
  table.insert(threads, thread)
end

local function read_file(path)
  local handle = assert(io.open(path, "rb"))
  local content = handle:read("*a")
  handle:close()
  return content
end

function init(args)
  assert(#args == 5, "arguments: BODY_FILE JWT_FILE PREFIX TOTAL THREADS")
  body = read_file(args[1])
  local token = read_file(args[2]):gsub("%s+$", "")
  prefix = args[3]
  local total = tonumber(args[4])
  local count = tonumber(args[5])
  share = math.floor(total / count)
  if id == count then
    share = total - share * (count - 1)
  end
  -- wrk builds one request in the first thread right after init() only to inspect it
  -- (script_verify_request); it is never sent, so that thread builds one more.
  budget = share
  if id == 1 then
    budget = share + 1
  end
  built = 0
  accepted = 0
  ok = 0
  duplicates = 0
  other = 0
  probes = 0
  headers = {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "JWT " .. token,
  }
  probe = wrk.format("GET", "/healthz")
  finished = false
  started_us = now_us()
end

-- After its share, a connection idles this long before a probe (the thread stops first).
local IDLE_MS = 5000

function delay()
  if built < budget then
    return 0
  end
  return IDLE_MS
end

function request()
  if built < budget then
    built = built + 1
    headers["X-Atlassian-Webhook-Identifier"] = string.format("%s-%d-%d", prefix, id, built)
    return wrk.format("POST", nil, headers, body)
  end
  return probe
end

function response(status, _headers, response_body)
  if status == 200 and response_body and response_body:find('"status":"ok"', 1, true) then
    probes = probes + 1
    return
  end
  if status == 202 then
    accepted = accepted + 1
  elseif status == 204 then
    ok = ok + 1
  elseif status == 200 then
    duplicates = duplicates + 1
  else
    other = other + 1
  end
  if not finished and accepted + ok + duplicates + other >= share then
    finished = true
    finished_us = now_us()
    io.write(string.format("WRK_THREAD_DONE %d\n", id))
    io.stdout:flush()
    wrk.thread:stop()
  end
end

function done(summary, latency, _requests)
  local totals = { accepted = 0, ok = 0, duplicates = 0, other = 0, probes = 0, share = 0 }
  for _, thread in ipairs(threads) do
    for name, _ in pairs(totals) do
      totals[name] = totals[name] + (thread:get(name) or 0)
    end
  end
  local first, last, complete = nil, 0, true
  for _, thread in ipairs(threads) do
    local started, ended = thread:get("started_us"), thread:get("finished_us")
    if first == nil or started < first then
      first = started
    end
    if ended == nil then
      complete = false
    elseif ended > last then
      last = ended
    end
  end
  local duration = complete and (last - first) or summary.duration
  local errors = summary.errors
  io.write(string.format(
    'WRK_RESULT {"complete":%s,"threads":%d,"share":%d,"accepted":%d,"ok":%d,"duplicates":%d,'
      .. '"other":%d,"probes":%d,"requests":%d,"duration_us":%d,"bytes":%d,'
      .. '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},'
      .. '"latency_us":{"min":%d,"mean":%.1f,"p50":%d,"p90":%d,"p99":%d,"p999":%d,"max":%d}}\n',
    tostring(complete), thread_count, totals.share, totals.accepted, totals.ok, totals.duplicates, totals.other,
    totals.probes, summary.requests, duration, summary.bytes,
    errors.connect, errors.read, errors.write, errors.status, errors.timeout,
    latency.min, latency.mean, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9), latency.max
  ))
end
