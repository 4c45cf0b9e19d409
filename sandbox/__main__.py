"""`python -m sandbox --port 9000 --sites alpha,beta`: serve a local Jira Cloud stand-in."""

from __future__ import annotations

import argparse
import logging
import sys

from sandbox.config import (
    DEFAULT_RETRY_DELAYS,
    SandboxConfig,
    parse_delays,
    parse_oauth_client,
)
from sandbox.server import SandboxServer


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind")
    parser.add_argument("--port", type=int, default=9000, help="port (0 picks a free one)")
    parser.add_argument("--sites", default="alpha,beta", help="comma-separated site names")
    parser.add_argument(
        "--retry-delays",
        default=",".join(f"{d:g}" for d in DEFAULT_RETRY_DELAYS),
        help="seconds between webhook retries, comma-separated",
    )
    parser.add_argument("--delivery-timeout", type=float, default=5.0, help="webhook timeout")
    parser.add_argument("--public-url", default=None, help="URL apps use to reach the sandbox")
    parser.add_argument("--seed", default="sandbox", help="seed for ids and client keys")
    parser.add_argument(
        "--oauth-client",
        action="append",
        default=[],
        metavar="ID:SECRET:REDIRECT_URI[,URI]",
        help="register an OAuth 2.0 (3LO) app (repeatable)",
    )
    parser.add_argument(
        "--access-token-lifetime", type=float, default=3600.0, help="OAuth access token seconds"
    )
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING, ...")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    try:
        config = SandboxConfig(
            sites=tuple(s.strip() for s in args.sites.split(",") if s.strip()),
            host=args.host,
            port=args.port,
            public_url=args.public_url,
            retry_delays=parse_delays(args.retry_delays),
            delivery_timeout=args.delivery_timeout,
            seed=args.seed,
            oauth_clients=tuple(parse_oauth_client(text) for text in args.oauth_client),
            access_token_lifetime=args.access_token_lifetime,
        )
        server = SandboxServer(config)
    except (ValueError, OSError) as exc:
        print(f"sandbox: {exc}", file=sys.stderr)
        return 2
    print(f"sandbox: listening on {server.url} (sites: {', '.join(config.sites)})", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
