-- A whole visit: GET the form, POST it with the token it holds, follow the 303 to
-- the done page. One connection per thread (wrk -t N -c N) keeps each visit in order.
-- Prints visits= and broken= for bench/_common.py.
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  step = 1
  visits = 0
  broken = 0
  token = nil
  location = nil
  body = os.getenv("OTKLIK_BENCH_BODY")
  headers = {["Content-Type"] = "application/x-www-form-urlencoded"}
end

function request()
  if step == 2 then
    return wrk.format("POST", nil, headers, body .. "&token=" .. token)
  elseif step == 3 then
    return wrk.format("GET", location)
  end
  return wrk.format("GET", nil)
end

function response(status, hdrs, resp_body)
  if step == 1 then
    token = resp_body:match('name="token" value="([^"]+)"')
    if status == 200 and token then step = 2 else broken = broken + 1 end
  elseif step == 2 then
    location = hdrs["Location"] or hdrs["location"]
    if status == 303 and location then
      location = location:gsub("^https?://[^/]+", "")
      step = 3
    else
      broken = broken + 1
      step = 1
    end
  else
    if status == 200 then visits = visits + 1 else broken = broken + 1 end
    step = 1
  end
end

function done(summary, latency, requests)
  local v, b = 0, 0
  for _, thread in ipairs(threads) do
    v = v + thread:get("visits")
    b = b + thread:get("broken")
  end
  io.write(string.format("visits=%d\nbroken=%d\n", v, b))
end
