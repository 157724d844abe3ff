-- wrk script for scripts/refresh-load.py: each thread (one connection) spends the
-- refresh token of its own session in a chain, POST /auth/refresh after
-- POST /auth/refresh, so every request is a real rotation.
--
-- The tokens come one a line from the file named by JWTAUTH_LOAD_TOKENS (thread i
-- takes line i), each thread's client address (sent as X-Forwarded-For) from the
-- comma-separated JWTAUTH_LOAD_ADDRESSES; JWTAUTH_LOAD_MAX bounds the requests of
-- each thread.

local threads = {}

function setup(thread)
   local n = #threads + 1
   threads[n] = thread
   local file = assert(io.open(os.getenv("JWTAUTH_LOAD_TOKENS"), "r"))
   local i = 0
   for line in file:lines() do
      i = i + 1
      if i == n then
         thread:set("token", line)
      end
   end
   file:close()
   i = 0
   for address in string.gmatch(os.getenv("JWTAUTH_LOAD_ADDRESSES") or "", "[^,]+") do
      i = i + 1
      if i == n then
         thread:set("address", address)
      end
   end
   thread:set("max", tonumber(os.getenv("JWTAUTH_LOAD_MAX") or "100000"))
end

ok, failed = 0, 0

function request()
   local headers = { ["Content-Type"] = "application/json" }
   if address then
      headers["X-Forwarded-For"] = address
   end
   return wrk.format("POST", "/auth/refresh", headers,
      '{"refresh_token":"' .. token .. '"}')
end

function response(status, headers, body)
   if status == 200 then
      local next = body:match('"refresh_token"%s*:%s*"([^"]+)"')
      if next then
         token = next
         ok = ok + 1
      else
         failed = failed + 1
      end
   else
      -- The token is unchanged: a refused refresh spends nothing (or the chain is dead).
      failed = failed + 1
   end
   if ok + failed >= max then
      wrk.thread:stop()
   end
end

function done(summary, latency, requests)
   local total_ok, total_failed = 0, 0
   for _, t in ipairs(threads) do
      total_ok = total_ok + t:get("ok")
      total_failed = total_failed + t:get("failed")
   end
   io.write(string.format("refresh-chain ok=%d failed=%d duration_us=%d p50_us=%d p99_us=%d\n",
      total_ok, total_failed, summary.duration, latency:percentile(50), latency:percentile(99)))
end
