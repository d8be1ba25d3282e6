-- wrk script for the login-throughput figure: POSTs pre-minted SAML Responses to the ACS, each
-- form body exactly once, as fast as the server takes them.
--
--   wrk -t T -c C -d 300s -s bench/acs.lua http://127.0.0.1:PORT/sso/acs -- BODIES T [MARKER [NOOP]]
--
-- BODIES holds one url-encoded form body (SAMLResponse=…&RelayState=…) per line. Thread k
-- (0-based) takes lines k+1, k+1+T, k+1+2T, …: no body is sent twice, none is left out.
--
-- When a thread has no body left, its connections that are still asked for a request send
-- GET NOOP (default /bench-noop, a `return 204` location), at most one every 50 ms per
-- connection; those answers are not counted. Once every POST of a thread has been answered, the
-- thread stops and, if MARKER is given, creates the file MARKER.<k>. wrk's main thread only
-- stops at -d or on SIGINT, so the caller waits for the T marker files and then interrupts wrk.
-- The login rate is measured here, from the first POST sent to the last 303 received
-- (CLOCK_MONOTONIC, through LuaJIT's ffi), not from wrk's own wall time.
--
-- done() prints one line:
--   ACS_RESULT posted=… answered=… ok=… refused=… t_first=… t_last=… statuses=303:N,403:N,…
-- ok counts 303 answers only: a 303 to the return URL is a completed login.

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clk_id, bench_timespec *tp);
]]
local ts = ffi.new("bench_timespec")
local function now()
    ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC: comparable across wrk's threads
    return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) * 1e-9
end

-- Main state: number the threads (setup runs there once per thread) and keep them for done().
local threads = {}
local next_id = 0

function setup(thread)
    thread:set("id", next_id)
    next_id = next_id + 1
    table.insert(threads, thread)
end

-- Thread states. These globals are read back by done() through thread:get().
posted = 0    -- POST requests handed to wrk
answered = 0  -- answers to POSTs (anything but the no-op's 204)
ok = 0        -- 303 answers
t_first = 0
t_last = 0
statuses = "" -- "303:N,403:N"

local requests = {}
local cursor = 1
local noop = nil
local marker = nil
local status_count = {}
-- wrk calls request() once on thread 0 before the run, only to look at the request
-- (script_verify_request): that call must not use up a body.
local probe_pending = false

local function leave_marker()
    if marker then
        local f = io.open(marker .. "." .. id, "w")
        if f then
            f:write(ok, "\n")
            f:close()
        end
    end
end

function init(args)
    local path = args[1]
    local nthreads = tonumber(args[2])
    marker = args[3]
    local noop_path = args[4] or "/bench-noop"
    assert(path and nthreads, "usage: -- BODIES THREADS [MARKER [NOOP]]")
    local headers = { ["Content-Type"] = "application/x-www-form-urlencoded" }
    local i = 0
    for line in io.lines(path) do
        if line ~= "" then
            if i % nthreads == id then
                requests[#requests + 1] = wrk.format("POST", nil, headers, line)
            end
            i = i + 1
        end
    end
    noop = wrk.format("GET", noop_path, {})
    probe_pending = (id == 0)
    if #requests == 0 then leave_marker() end
end

function delay()
    if cursor <= #requests then return 0 end
    return 50
end

function request()
    if probe_pending then
        probe_pending = false
        return requests[1] or noop
    end
    if cursor <= #requests then
        if cursor == 1 then t_first = now() end
        local r = requests[cursor]
        requests[cursor] = false -- each body once; let the GC have it
        cursor = cursor + 1
        posted = posted + 1
        return r
    end
    return noop
end

function response(status, headers, body)
    if status == 204 then return end -- the no-op
    answered = answered + 1
    status_count[status] = (status_count[status] or 0) + 1
    if status == 303 then
        ok = ok + 1
        t_last = now()
    end
    local parts = {}
    for s, n in pairs(status_count) do parts[#parts + 1] = s .. ":" .. n end
    statuses = table.concat(parts, ",")
    if answered >= #requests then
        leave_marker()
        wrk.thread:stop()
    end
end

function done(summary, latency, reqs)
    local p, a, o, first, last = 0, 0, 0, math.huge, 0
    local st = {}
    for _, t in ipairs(threads) do
        p = p + t:get("posted")
        a = a + t:get("answered")
        o = o + t:get("ok")
        local f = t:get("t_first")
        if f > 0 and f < first then first = f end
        local l = t:get("t_last")
        if l > last then last = l end
        local s = t:get("statuses")
        if s ~= "" then st[#st + 1] = s end
    end
    if first == math.huge then first = 0 end
    io.write(string.format(
        "ACS_RESULT posted=%d answered=%d ok=%d refused=%d t_first=%.6f t_last=%.6f statuses=%s\n",
        p, a, o, a - o, first, last, table.concat(st, ",")))
end
