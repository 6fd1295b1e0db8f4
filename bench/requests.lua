-- The one wrk script of bench/run: every server is driven by it, so every server sees the
-- same requests in the same order. It cycles through a list of pre-encoded OCSP requests
-- (one CertID each; 10,000 by default), built once in init() so that request() is a table
-- lookup and wrk's own cost is the same for every peer.
--
--   wrk ... -s bench/requests.lua URL -- mode=post|get file=FILE [prefix=P] [host=H]
--                                        [delay_ms=D] [once=1]
--
--   mode=post   FILE holds one request DER per line in hex; each is POSTed to P (default
--               "/") as application/ocsp-request.
--   mode=get    FILE holds one base64url request per line (RFC 5019 GET); each is
--               GET P .. line. P is "/" for a responder or a static file root,
--               "http://host:port/" for an absolute-URI request to a forward proxy.
--   host=H      the Host header (default: URL's host:port); a forward proxy wants the origin's.
--   header=N:V  one more request header (e.g. "Proxy-Connection: keep-alive").
--   delay_ms=D  each connection pauses D ms between requests (default 0: closed loop).
--               With C connections the offered rate is about C * 1000 / (D + latency).
--   once=1 threads=T   every request of FILE once (thread k of T takes every Tth from k),
--               then the thread stops sending: fills a cache. T must be wrk's -t. wrk
--               itself still runs for its -d: the caller interrupts it (SIGINT) when done.
--
-- Threads start at different points of the list so that they do not ask in lock step.
-- done() prints one line "BENCH {json}" with exact figures from wrk's latency histogram.

local requests = {}
local count = 0
local next_index = 0
local pause_ms = 0
local answered = 0

local thread_number = 0
function setup(thread)
  thread:set("thread_id", thread_number)
  thread_number = thread_number + 1
end

local function unhex(s)
  return (s:gsub("%x%x", function(byte) return string.char(tonumber(byte, 16)) end))
end

local function options(args)
  local o = {}
  for _, arg in ipairs(args) do
    local key, value = arg:match("^([%w_]+)=(.*)$")
    assert(key, "argument is not key=value: " .. arg)
    o[key] = value
  end
  return o
end

function init(args)
  local o = options(args)
  local prefix = o.prefix or "/"
  local host = o.host or (wrk.host .. ":" .. wrk.port)
  pause_ms = tonumber(o.delay_ms or "0")
  assert(o.mode == "post" or o.mode == "get", "mode must be post or get")
  local headers = {["Host"] = host}
  if o.header then
    local name, value = o.header:match("^([^:]+):%s*(.*)$")
    headers[name] = value
  end
  local thread_count = tonumber(o.threads or "1")
  local i = 0
  assert(o.file, "file= is required")
  for line in io.lines(o.file) do
    if line ~= "" then
      i = i + 1
      -- once=1: this thread keeps only its share (every thread_count-th request)
      if o.once ~= "1" or (i - 1) % thread_count == thread_id then
        if o.mode == "post" then
          headers["Content-Type"] = "application/ocsp-request"
          requests[#requests + 1] = wrk.format("POST", prefix, headers, unhex(line))
        else
          requests[#requests + 1] = wrk.format("GET", prefix .. line, headers)
        end
      end
    end
  end
  count = #requests
  assert(count > 0, "no requests in " .. o.file)
  if o.once == "1" then
    -- response() is only defined here: with it wrk parses every answer, which the
    -- measured runs must not pay. After its share the thread re-sends its last request
    -- (by then a hit) on connections still busy, until every answer is in.
    next_index = 0
    response = function()
      answered = answered + 1
      if answered >= count then wrk.thread:stop() end
    end
  else
    next_index = (thread_id * 7919) % count
  end
  -- Only defined when a pause was asked for: wrk checks for delay() after init(), and with
  -- it every request goes through a timer, which the closed-loop runs must not pay.
  if pause_ms > 0 then
    delay = function() return pause_ms end
  end
end

-- wrk calls request() once before the run on the first thread, to check what it returns;
-- in once=1 mode that call must not use up a request (the first one would never be sent).
local peeked = false

function request()
  if response and not peeked then
    peeked = true
    return requests[1]  -- on the other threads this sends their first request twice
  end
  next_index = next_index + 1
  if next_index > count then
    next_index = response and count or 1
  end
  return requests[next_index]
end

function done(summary, latency, _)
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, ' ..
    '"max_us": %d, "errors_connect": %d, "errors_read": %d, "errors_write": %d, ' ..
    '"errors_status": %d, "errors_timeout": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, e.connect, e.read, e.write, e.status, e.timeout))
end
