-- wrk script for scripts/bench.sh: GET the URL with a different Bearer token on
-- each request, cycling through the tokens of the file named by BENCH_TOKENS (one a
-- line), so a server sees as many distinct tokens as the file holds.

local tokens = {}
for line in assert(io.open(os.getenv("BENCH_TOKENS"), "r")):lines() do
   tokens[#tokens + 1] = "Bearer " .. line
end
assert(#tokens > 0, "BENCH_TOKENS names an empty file")
local i = 0

function request()
   i = i % #tokens + 1
   return wrk.format("GET", nil, { Authorization = tokens[i] })
end
