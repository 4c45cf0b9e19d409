"""Crypto costs: seal/open against the bare AES-GCM primitive, and DEK unwrap cached/uncached.

The primitive (``keys.aead.encrypt``/``decrypt``) is the baseline; ``keys.envelope.seal``
and ``open_sealed`` add the header, the associated data and a fresh nonce. ``KeyService.get``
is measured with its cache (a dict hit) and without (``cache_seconds=0``: SELECT of the
``data_keys`` row as the app role in a tenant session, then the KEK unwrap), on a real
DEK created in the ``tandem_bench`` database and deleted afterwards. In-memory figures
are the fastest of ``--repeats`` timings (as ``timeit`` advises: slower ones only measure
other processes); the uncached get, which waits on the database, is a median.

Usage: ``python bench/crypto.py [--ops 2000] [--db-ops 1000] [--repeats 21]``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import argparse
import platform
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import Crypto
from sqlalchemy import text
from sqlalchemy.orm import Session

from bench.common import (
    BENCH_DATABASE,
    bench_main,
    bench_urls,
    ensure_database,
    figure,
    median,
    note,
    time_ops,
)
from keys import aead
from keys.data_keys import KeyService, wrapping_aad
from keys.envelope import DataKey, SealContext, open_sealed, seal
from keys.kek import LocalKeks
from models.db import Database, make_engine
from models.tenants import create_tenant

SIZES = {"64B": 64, "1KiB": 1024}
KEK_ID = "bench-crypto-kek"
DB_REPEATS = 5  # uncached gets wait on the database: their figure is the median of these


@dataclass(frozen=True)
class Settings:
    """How many operations to time, and how often to repeat the timing."""

    ops: int
    db_ops: int
    repeats: int


def timed(operation: Callable[[], object], ops: int, repeats: int) -> float:
    """Fastest microseconds per call over ``repeats`` runs of ``ops`` calls (in-memory work:
    slower runs only add other processes' interference, as with ``timeit``)."""
    operation()
    return min(time_ops(operation, ops, repeats))


def timed_together(
    operations: dict[str, Callable[[], object]], ops: int, repeats: int
) -> dict[str, float]:
    """Fastest microseconds per call of each operation, timed in turns within every repeat
    so that a slow moment of the machine hits all of them alike."""
    runs: dict[str, list[float]] = {name: [] for name in operations}
    for operation in operations.values():
        operation()
    for _ in range(repeats):
        for name, operation in operations.items():
            runs[name].extend(time_ops(operation, ops, 1))
    return {name: min(figures) for name, figures in runs.items()}


def sample_key_and_context() -> tuple[DataKey, SealContext]:
    """A throwaway DEK and the context of a connection's access token."""
    tenant_id = uuid.uuid4()
    key = DataKey(key_id=uuid.uuid4(), tenant_id=tenant_id, material=aead.new_key())
    return key, SealContext(tenant_id, "connections", str(uuid.uuid4()), "access_token")


def operations_for(
    key: DataKey, context: SealContext, plaintext: bytes, s: Settings
) -> dict[str, Callable[[], object]]:
    """The primitive (each encryption with its own pre-generated nonce) and the envelope
    (``open_sealed`` finds the key by a dict look-up, as from a warm cache)."""
    aad = context.associated_data()
    nonces = iter([aead.new_nonce() for _ in range(s.ops * s.repeats + 1)])
    nonce = aead.new_nonce()
    body = aead.encrypt(key.material, nonce, plaintext, aad)
    sealed = seal(plaintext, key, context)
    find_key = {key.key_id: key}.__getitem__
    return {
        "encrypt_us": lambda: aead.encrypt(key.material, next(nonces), plaintext, aad),
        "seal_us": lambda: seal(plaintext, key, context),
        "decrypt_us": lambda: aead.decrypt(key.material, nonce, body, aad),
        "open_us": lambda: open_sealed(sealed, context, find_key),
    }


def size_figures(s: Settings) -> dict[str, dict[str, float]]:
    """Primitive and envelope figures per plaintext size, with the envelope/primitive ratios."""
    key, context = sample_key_and_context()
    results = {}
    for label, size in SIZES.items():
        operations = operations_for(key, context, bytes(size), s)
        figures = timed_together(operations, s.ops, s.repeats)
        figures["seal_ratio"] = figures["seal_us"] / figures["encrypt_us"]
        figures["open_ratio"] = figures["open_us"] / figures["decrypt_us"]
        results[label] = figures
    return results


def kek_unwrap_us(keks: LocalKeks, s: Settings) -> float:
    """The KEK unwrap of one DEK (what an uncached get adds to its SELECT)."""
    key_id, tenant_id = uuid.uuid4(), uuid.uuid4()
    aad = wrapping_aad(key_id, tenant_id)
    kek_id, wrapped = keks.wrap(aead.new_key(), aad)
    return timed(lambda: keks.unwrap(kek_id, wrapped, aad), s.ops, s.repeats)


def uncached_get(service: KeyService, session: Session, key_id: uuid.UUID) -> DataKey:
    """A get that must SELECT: the session forgets the row it loaded last time."""
    session.expunge_all()
    return service.get(session, key_id)


def dek_get_figures(db: Database, keks: LocalKeks, s: Settings) -> dict[str, float]:
    """KeyService.get with and without its cache, on a real DEK in the bench database."""
    tenant_id = uuid.uuid4()
    with db.tenant_session(tenant_id) as session:
        create_tenant(session, "crypto bench")
        key_id = KeyService(keks).create(session, tenant_id, "tenant_log", None).key_id
    try:
        cached_service, uncached_service = KeyService(keks, 300), KeyService(keks, 0)
        with db.tenant_session(tenant_id) as session:
            cached = timed(lambda: cached_service.get(session, key_id), s.ops, s.repeats)
            uncached = median(
                time_ops(
                    lambda: uncached_get(uncached_service, session, key_id), s.db_ops, DB_REPEATS
                )
            )
    finally:
        with db.tenant_session(tenant_id) as session:
            session.execute(text("DELETE FROM tenants WHERE id = :t"), {"t": tenant_id})
    return {"cached_us": cached, "uncached_us": uncached, "uncached_over_cached": uncached / cached}


def report(results: dict[str, Any]) -> None:
    """One figure per line."""
    for label, sized in results["sizes"].items():
        figure(f"crypto.aead_encrypt.{label}.us", sized["encrypt_us"])
        figure(f"crypto.seal.{label}.us", sized["seal_us"])
        figure(f"crypto.seal.{label}.ratio", sized["seal_ratio"])
        figure(f"crypto.aead_decrypt.{label}.us", sized["decrypt_us"])
        figure(f"crypto.open.{label}.us", sized["open_us"])
        figure(f"crypto.open.{label}.ratio", sized["open_ratio"])
    figure("crypto.kek_unwrap.us", results["kek_unwrap_us"])
    figure("crypto.dek_get.cached.us", results["dek_get"]["cached_us"])
    figure("crypto.dek_get.uncached.us", results["dek_get"]["uncached_us"])
    figure("crypto.dek_get.uncached_over_cached", results["dek_get"]["uncached_over_cached"])


def parse_args(argv: list[str] | None) -> Settings:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=2_000, help="in-memory operations per timing")
    parser.add_argument("--db-ops", type=int, default=1_000, help="uncached gets per timing")
    parser.add_argument("--repeats", type=int, default=21, help="timings per in-memory figure")
    args = parser.parse_args(argv)
    if min(args.ops, args.db_ops, args.repeats) < 1:
        parser.error("--ops, --db-ops and --repeats must be at least 1")
    return Settings(args.ops, args.db_ops, args.repeats)


def run(settings: Settings) -> dict[str, Any]:
    """Every figure, as the result document."""
    started = time.perf_counter()
    urls = bench_urls()
    if ensure_database(urls):
        note(f"created database {BENCH_DATABASE}")
    keks = LocalKeks(KEK_ID, {KEK_ID: aead.new_key()})
    results: dict[str, Any] = {"sizes": size_figures(settings)}
    results["kek_unwrap_us"] = kek_unwrap_us(keks, settings)
    db = Database(make_engine(urls.app, pool_size=1))
    try:
        results["dek_get"] = dek_get_figures(db, keks, settings)
    finally:
        db.dispose()
    return results | {
        "ops": settings.ops,
        "db_ops": settings.db_ops,
        "repeats": settings.repeats,
        "database": BENCH_DATABASE,
        "python": platform.python_version(),
        "pycryptodome": Crypto.__version__,
        "total_seconds": round(time.perf_counter() - started, 1),
    }


def main(argv: list[str] | None = None) -> int:
    return bench_main("crypto", parse_args, run, report, argv)


if __name__ == "__main__":
    sys.exit(main())
