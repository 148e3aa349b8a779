-- wrk: POST a different line of BODIES (a file of form-encoded bodies) with each request.
-- Thread n of THREADS takes every THREADS-th line from the n-th, so no two send the same body.
local counter = 0

function setup(thread)
    thread:set("id", counter)
    counter = counter + 1
end

function init(args)
    local count = tonumber(os.getenv("THREADS"))
    bodies = {}
    local i = 0
    for line in io.lines(os.getenv("BODIES")) do
        if i % count == id then
            table.insert(bodies, line)
        end
        i = i + 1
    end
    next_body = 1
    wrk.method = "POST"
    wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
end

function request()
    local body = bodies[next_body]
    next_body = next_body % #bodies + 1
    return wrk.format(nil, nil, nil, body)
end
