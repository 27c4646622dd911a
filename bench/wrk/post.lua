-- POST the form with a fresh token each time: tokens come one a line from
-- $OTKLIK_BENCH_TOKENS, shared out between wrk's threads; the rest of the body
-- from $OTKLIK_BENCH_BODY. Prints used= and exhausted= for bench/_common.py.
local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  local total = tonumber(os.getenv("OTKLIK_BENCH_THREADS"))
  tokens = {}
  local i = 0
  for line in io.lines(os.getenv("OTKLIK_BENCH_TOKENS")) do
    if i % total == id then
      table.insert(tokens, line)
    end
    i = i + 1
  end
  body = os.getenv("OTKLIK_BENCH_BODY")
  headers = {["Content-Type"] = "application/x-www-form-urlencoded"}
  used = 0
  exhausted = 0
end

function request()
  used = used + 1
  local token = tokens[used]
  if token == nil then
    exhausted = exhausted + 1
    token = tokens[#tokens]
  end
  return wrk.format("POST", nil, headers, body .. "&token=" .. token)
end

function done(summary, latency, requests)
  local u, e = 0, 0
  for _, thread in ipairs(threads) do
    u = u + thread:get("used")
    e = e + thread:get("exhausted")
  end
  io.write(string.format("used=%d\nexhausted=%d\n", u, e))
end
