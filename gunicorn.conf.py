"""gunicorn settings for the web process (production and `make run` alike).

Override with the environment: PORT, WEB_BIND, WEB_CONCURRENCY, WEB_THREADS, WEB_ACCESS_LOG.
"""

import multiprocessing
import os

bind = os.environ.get("WEB_BIND", f"127.0.0.1:{os.environ.get('PORT', '8000')}")
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("WEB_THREADS", "1"))
worker_class = "gthread" if threads > 1 else "sync"
timeout = 30
graceful_timeout = 20
keepalive = 5
max_requests = 20000
max_requests_jitter = 2000
accesslog = "-" if os.environ.get("WEB_ACCESS_LOG", "1") == "1" else None
# Never log headers or query strings: they carry JWTs (Authorization, ?jwt=).
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms'
