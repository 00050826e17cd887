"""gunicorn's configuration for the hotline: ``gunicorn --config deploy/gunicorn.conf.py app:app``.

Read by ``deploy/hotline-web.service``; every value can be overridden from the
environment file (``/etc/hotline/env``) without editing this file.
"""

import multiprocessing
import os

#: nginx proxies to this address; the app is never exposed directly.
bind = os.environ.get("HOTLINE_BIND", "127.0.0.1:8000")

#: Sync workers: two per core and one, at most 8 (each holds a few database connections; PostgreSQL's
#: max_connections, 100 by default, is shared by every web node and scheduler).
workers = int(os.environ.get("HOTLINE_WEB_WORKERS") or min(2 * multiprocessing.cpu_count() + 1, 8))
worker_class = "sync"

#: A worker silent this long is killed and replaced. Twilio gives up on a webhook after 15 s (and the
#: webhooks answer within ~2 s, spooling when the database is slow); reports and exports may take longer.
timeout = 60
#: On restart or reload, requests in flight get this long to finish.
graceful_timeout = 30
#: nginx keeps connections to the upstream open (``keepalive`` in the nginx site).
keepalive = 75

#: A worker is replaced after this many requests (with jitter, so they do not all restart at once).
max_requests = 2000
max_requests_jitter = 200

#: X-Forwarded-Proto is trusted from nginx on this machine only (the request's scheme is then https).
#: The client address comes from X-Forwarded-For through the app's HOTLINE_PROXY_HOPS (werkzeug ProxyFix).
forwarded_allow_ips = os.environ.get("HOTLINE_FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

#: Access and error logs to standard output and error: systemd's journal keeps them
#: (``journalctl -u hotline-web``). Each access line ends with the request time in milliseconds.
accesslog = os.environ.get("HOTLINE_ACCESS_LOG", "-")
errorlog = "-"
loglevel = os.environ.get("HOTLINE_GUNICORN_LOG_LEVEL", "info")
access_log_format = '%({x-forwarded-for}i)s "%(r)s" %(s)s %(B)s "%(f)s" "%(a)s" %(M)sms'

#: Each worker builds its own application and database pool (no ``preload_app``: a pool must not
#: cross a fork, and SQLite's checkpoint thread starts per process).
preload_app = False
proc_name = "hotline-web"


def post_worker_init(worker):
    """Each worker replays its node's intake spool once the database answers again (also with no scheduler here).

    One worker at a time does (the spool's replay lock); every
    HOTLINE_WEB_SPOOL_REPLAY_SECONDS (5; 0: never) each looks at the spool's folders, nothing more.
    """
    from flask import Flask

    from hotline.intake.replay import start_web_replayer

    if isinstance(worker.wsgi, Flask):
        start_web_replayer(worker.wsgi)
