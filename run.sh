#!/usr/bin/env bash
# `make run`: the web server (gunicorn) and the forwarder together, on the instance's
# queue_url (the spool by default). Ctrl-C or SIGTERM stops both cleanly: gunicorn
# finishes its requests, the forwarder the batch in hand. If either one exits, the
# other is stopped too, and the script exits with the first one's status.
set -u
bin="${VENV:-.venv}/bin"
# Both write their metrics here; /metrics sums them (see docs/deploy.md).
instance="${OTKLIK_INSTANCE_PATH:-instance}"
export PROMETHEUS_MULTIPROC_DIR="${PROMETHEUS_MULTIPROC_DIR:-$(realpath -m "$instance")/metrics}"

# Each in its own session: a Ctrl-C reaches this script alone, which then asks each
# to stop once (a second signal would make the forwarder stop at once).
setsid "$bin/gunicorn" wsgi:app &
web=$!
setsid "$bin/flask" --app wsgi forward &
forwarder=$!

stopping=0
stop() {  # once only: a second SIGTERM makes the forwarder drop the batch in hand
    [ "$stopping" = 1 ] && return
    stopping=1
    kill -TERM "$web" "$forwarder" 2>/dev/null
}
trap stop INT TERM

wait -n "$web" "$forwarder"
status=$?
if [ "$stopping" = 1 ]; then status=0; else stop; fi
for pid in "$web" "$forwarder"; do
    wait "$pid"
    code=$?
    # 127: already reaped by `wait -n` above (its status is in $status)
    if [ "$code" != 0 ] && [ "$code" != 127 ] && [ "$status" = 0 ]; then status=$code; fi
done
exit "$status"
