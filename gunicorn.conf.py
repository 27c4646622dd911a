"""gunicorn settings for Otklik (gunicorn reads this file from the working folder).

Override any of them on the command line or with GUNICORN_CMD_ARGS; the address
with OTKLIK_BIND (default 127.0.0.1:8000).
"""

import multiprocessing
import os

bind = os.environ.get("OTKLIK_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("OTKLIK_WORKERS", min(2 * multiprocessing.cpu_count() + 1, 9)))
worker_class = "sync"
# Import the app once in the arbiter, then fork the workers: they start in a fraction
# of the time (importing the app costs each worker about a second of CPU) and share
# the imported code's memory. A new release therefore needs a restart, not a HUP.
# Nothing holds a connection across the fork (the outbox opens one per worker).
preload_app = True
timeout = 30
graceful_timeout = 20
keepalive = 5
# Header limits: a widget needs none of the large headers attackers send.
limit_request_line = 4094
limit_request_fields = 50
limit_request_field_size = 8190
# The access log has neither the client address nor the query string:
# both can identify a citizen (promise 6).
accesslog = "-"
access_log_format = '"%(m)s %(U)s" %(s)s %(B)sB %(M)sms'
errorlog = "-"
