-- wrk script for scripts/login-storm.sh: POST /auth/login, alternating the right and
-- a wrong password for one user. Each thread stops after PER_THREAD answers and writes
-- its counts (200, 401, 429, 503, other) to $COUNTS/<thread>, which tells the script
-- the storm is over (wrk itself would idle until its -d duration ends).
local limit = tonumber(os.getenv("PER_THREAD") or "5000")
local counts_dir = os.getenv("COUNTS") or "."
local bodies = {
    [0] = '{"username":"bench","password":"' .. os.getenv("PASSWORD") .. '"}',
    [1] = '{"username":"bench","password":"wrong-' .. os.getenv("PASSWORD") .. '"}',
}
local sent, answered = 0, 0
local count = { ok = 0, wrong = 0, limited = 0, busy = 0, other = 0 }
local threads = 0

function setup(thread)
    threads = threads + 1
    thread:set("id", threads)
end

function request()
    sent = sent + 1
    return wrk.format("POST", "/auth/login", { ["Content-Type"] = "application/json" }, bodies[sent % 2])
end

function response(status, headers, body)
    answered = answered + 1
    if status == 200 then
        count.ok = count.ok + 1
    elseif status == 401 then
        count.wrong = count.wrong + 1
    elseif status == 429 then
        count.limited = count.limited + 1
    elseif status == 503 then
        count.busy = count.busy + 1
    else
        count.other = count.other + 1
    end
    if answered == limit then
        local f = io.open(counts_dir .. "/" .. id, "w")
        f:write(string.format("%d %d %d %d %d\n", count.ok, count.wrong, count.limited, count.busy, count.other))
        f:close()
        wrk.thread:stop()
    end
end
