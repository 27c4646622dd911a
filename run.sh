#!/usr/bin/env bash
# `make run`: the web server (gunicorn) and the forwarder together, on the instance's
# queue_url (the spool by default). Ctrl-C or SIGTERM stops both cleanly: gunicorn
# finishes its requests, the forwarder the batch in hand. If either one exits, the
# other is stopped too, and the script exits with the first one's status.
set -u
bin="${VENV:-.venv}/bin"

# Each in its own session: a Ctrl-C reaches this script alone, which then asks each
# to stop once (a second signal would make the forwarder stop at once).
setsid "$bin/gunicorn" wsgi:app &
web=$!
setsid "$bin/flask" --app wsgi forward &
forwarder=$!

stopping=0
stop() {
    stopping=1
    kill -TERM "$web" "$forwarder" 2>/dev/null
}
trap stop INT TERM

wait -n "$web" "$forwarder"
status=$?
[ "$stopping" = 1 ] && status=0
stop
for pid in "$web" "$forwarder"; do
    wait "$pid" || status=${status/#0/1}
done
exit "$status"
