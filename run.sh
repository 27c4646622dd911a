#!/usr/bin/env bash
# `make run`: the web server (gunicorn), the forwarder and the listener together, on the
# instance's queue_url and updates_url (the spool folders by default). Ctrl-C or SIGTERM
# stops all three cleanly: gunicorn finishes its requests, the forwarder the batch in
# hand, the listener commits what it holds. If any one exits, the others are stopped
# too, and the script exits with the first one's status.
set -u
bin="${VENV:-.venv}/bin"
# All write their metrics here; /metrics sums them (see docs/deploy.md).
instance="${OTKLIK_INSTANCE_PATH:-instance}"
export PROMETHEUS_MULTIPROC_DIR="${PROMETHEUS_MULTIPROC_DIR:-$(realpath -m "$instance")/metrics}"

# Each in its own session: a Ctrl-C reaches this script alone, which then asks each
# to stop once (a second signal would make the forwarder stop at once).
setsid "$bin/gunicorn" wsgi:app &
web=$!
setsid "$bin/flask" --app wsgi forward &
forwarder=$!
setsid "$bin/flask" --app wsgi listen &
listener=$!
pids=("$web" "$forwarder" "$listener")

stopping=0
stop() {  # once only: a second SIGTERM makes the forwarder drop the batch in hand
    [ "$stopping" = 1 ] && return
    stopping=1
    kill -TERM "${pids[@]}" 2>/dev/null
}
trap stop INT TERM

wait -n "${pids[@]}"
status=$?
if [ "$stopping" = 1 ]; then status=0; else stop; fi
for pid in "${pids[@]}"; do
    wait "$pid"
    code=$?
    # 127: already reaped by `wait -n` above (its status is in $status)
    if [ "$code" != 0 ] && [ "$code" != 127 ] && [ "$status" = 0 ]; then status=$code; fi
done
exit "$status"
