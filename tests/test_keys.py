"""Acceptance 4: the AES-GCM primitive, the sealed format, rotation and crypto-shredding."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from keys import aead
from keys.data_keys import DataKeyGone, KeyService
from keys.envelope import DataKey, SealContext, key_id_of, open_sealed, seal
from keys.kek import LocalKeks
from keys.keyring_file import read_keyring
from keys.rotation import dek_counts_by_kek, rotate
from models.installations import Installation, create_installation, shared_secret_of
from runtime import Runtime

SHARED = Path(os.environ.get("TANDEM_SHARED_DIR", Path(__file__).resolve().parents[2] / "shared"))
WYCHEPROOF = SHARED / "testdata/wycheproof/aes_gcm_test.json"


def _vectors() -> list[dict]:
    data = json.loads(WYCHEPROOF.read_text())
    tests = [t for group in data["testGroups"] for t in group["tests"]]
    assert len(tests) == data["numberOfTests"] == 316
    return tests


def test_all_wycheproof_aes_gcm_vectors_behave_as_labelled() -> None:
    outcomes = {"valid": 0, "invalid": 0}
    for vector in _vectors():
        key, iv, aad, msg, ct, tag = (
            bytes.fromhex(vector[name]) for name in ("key", "iv", "aad", "msg", "ct", "tag")
        )
        label = f"tcId {vector['tcId']} ({vector['comment']})"
        if vector["result"] == "valid":
            assert aead.decrypt(key, iv, ct + tag, aad) == msg, label
            assert aead.encrypt(key, iv, msg, aad) == ct + tag, label
        else:
            with pytest.raises(aead.InvalidCiphertext):
                aead.decrypt(key, iv, ct + tag, aad)
                pytest.fail(f"accepted an invalid vector: {label}")
        outcomes[vector["result"]] += 1
    assert outcomes == {"valid": 229, "invalid": 87}


TENANT = uuid.UUID("00000000-0000-4000-8000-0000000000aa")
KEY = DataKey(uuid.UUID("00000000-0000-4000-8000-000000000001"), TENANT, bytes(range(32)))
CONTEXT = SealContext(TENANT, "installations", "row-1", "shared_secret")
KNOWN_SEALED = bytes.fromhex(
    "0100000000000040008000000000000001000102030405060708090a0b"
    "246da469a086b63be52ee5f8d486a7e480c04d829e0ffb53e73a905ee2"
)


def _find(key_id: uuid.UUID) -> DataKey:
    """Like the real look-up: only the one stored key id resolves."""
    if key_id != KEY.key_id:
        raise DataKeyGone(f"no data key {key_id}")
    return KEY


def test_known_answer_pins_the_format() -> None:
    # version 1 | DEK id | 96-bit nonce | ciphertext | tag, AAD = version, tenant, table, row, field
    assert KNOWN_SEALED[0] == 1
    assert key_id_of(KNOWN_SEALED) == KEY.key_id
    assert open_sealed(KNOWN_SEALED, CONTEXT, _find) == b"correct horse"
    fresh = seal(b"correct horse", KEY, CONTEXT)
    assert len(fresh) == len(KNOWN_SEALED) and fresh[:17] == KNOWN_SEALED[:17]
    assert fresh[17:29] != KNOWN_SEALED[17:29], "nonces must be random"


def test_flipping_any_byte_fails() -> None:
    sealed = seal(b"a secret worth keeping", KEY, CONTEXT)
    for index in range(len(sealed)):
        tampered = bytearray(sealed)
        tampered[index] ^= 0x01
        with pytest.raises(aead.InvalidCiphertext):
            open_sealed(bytes(tampered), CONTEXT, _find)
    with pytest.raises(aead.InvalidCiphertext):
        open_sealed(sealed[:-1], CONTEXT, _find)


@pytest.mark.parametrize(
    "moved",
    [
        SealContext(TENANT, "installations", "row-2", "shared_secret"),
        SealContext(TENANT, "installations", "row-1", "other_field"),
        SealContext(TENANT, "connections", "row-1", "shared_secret"),
        SealContext(uuid.uuid4(), "installations", "row-1", "shared_secret"),
    ],
)
def test_moved_ciphertext_fails_to_open(moved: SealContext) -> None:
    sealed = seal(b"bound to its place", KEY, CONTEXT)
    other_tenant_key = DataKey(KEY.key_id, moved.tenant_id, KEY.material)
    with pytest.raises(aead.InvalidCiphertext):
        open_sealed(sealed, moved, lambda _kid: other_tenant_key)


def test_row_swap_in_the_database_fails(runtime: Runtime, new_tenant) -> None:
    tenant_id = new_tenant("swap")
    with runtime.db.tenant_session(tenant_id) as session:
        one = create_installation(session, runtime.keys, f"c-{uuid.uuid4()}", "https://1", "one")
        two = create_installation(session, runtime.keys, f"c-{uuid.uuid4()}", "https://2", "two")
        assert shared_secret_of(session, runtime.keys, one) == "one"
        two.shared_secret = one.shared_secret
        session.flush()
        with pytest.raises(aead.InvalidCiphertext):
            shared_secret_of(session, runtime.keys, two)


def test_destroyed_key_makes_values_unreadable(runtime: Runtime, new_tenant) -> None:
    tenant_id = new_tenant("shred")
    with runtime.db.tenant_session(tenant_id) as session:
        installation = create_installation(
            session, runtime.keys, f"c-{uuid.uuid4()}", "https://s", "doomed"
        )
        installation_id = installation.id
        runtime.keys.destroy(session, installation.data_key_id)
    cold = KeyService(runtime.keys.kek, cache_seconds=0)
    for service in (runtime.keys, cold):
        with runtime.db.tenant_session(tenant_id) as session:
            installation = session.get(Installation, installation_id)
            with pytest.raises(DataKeyGone):
                shared_secret_of(session, service, installation)


def test_a_tenant_cannot_use_another_tenants_cached_key(runtime: Runtime, new_tenant) -> None:
    a, b = new_tenant("a"), new_tenant("b")
    with runtime.db.tenant_session(a) as session:
        installation = create_installation(session, runtime.keys, f"c-{uuid.uuid4()}", "h", "x")
    with runtime.db.tenant_session(b) as session:
        with pytest.raises(DataKeyGone):
            runtime.keys.get(session, installation.data_key_id)


def test_rotation_rewraps_every_key_and_everything_still_opens(
    runtime: Runtime, new_tenant, settings
) -> None:
    current, keys = read_keyring(settings.kek_keyring_path)
    sealed: list[tuple[uuid.UUID, uuid.UUID, str]] = []
    for index in range(3):
        tenant_id = new_tenant(f"rotate-{index}")
        with runtime.db.tenant_session(tenant_id) as session:
            secret = f"secret-{index}-{uuid.uuid4()}"
            installation = create_installation(
                session, runtime.keys, f"c-{uuid.uuid4()}", "https://r", secret
            )
            sealed.append((tenant_id, installation.id, secret))
    maintenance = runtime.maintenance_engine()
    before = dek_counts_by_kek(maintenance)
    assert before.get(current, 0) >= 3
    assert set(before) == {current}

    new_id = "kek-test-rotation"
    rotated = KeyService(LocalKeks(new_id, {**keys, new_id: aead.new_key()}), cache_seconds=0)
    wrapped_before = _wrapped_and_sealed(runtime, sealed)
    assert rotate(runtime.db, maintenance, rotated) == sum(before.values())
    assert dek_counts_by_kek(maintenance) == {new_id: sum(before.values())}
    assert rotate(runtime.db, maintenance, rotated) == 0, "rotation is idempotent"

    wrapped_after = _wrapped_and_sealed(runtime, sealed)
    for (key_before, secret_before), (key_after, secret_after) in zip(
        wrapped_before, wrapped_after, strict=True
    ):
        assert key_before != key_after, "the DEK was re-wrapped"
        assert secret_before == secret_after, "sealed data was not touched"
    for tenant_id, installation_id, secret in sealed:
        with runtime.db.tenant_session(tenant_id) as session:
            installation = session.get(Installation, installation_id)
            assert shared_secret_of(session, rotated, installation) == secret

    # Put every key back under the session's KEK for the other tests.
    back = KeyService(LocalKeks(current, {**keys, new_id: rotated.kek._keys[new_id]}), 0)
    rotate(runtime.db, maintenance, back)
    assert set(dek_counts_by_kek(maintenance)) == {current}


def _wrapped_and_sealed(runtime: Runtime, sealed: list) -> list[tuple[bytes, bytes]]:
    out = []
    for tenant_id, installation_id, _ in sealed:
        with runtime.db.tenant_session(tenant_id) as session:
            row = session.execute(
                text(
                    "SELECT d.wrapped, i.shared_secret FROM installations i "
                    "JOIN data_keys d ON d.id = i.data_key_id WHERE i.id = :i"
                ),
                {"i": installation_id},
            ).one()
            out.append((bytes(row[0]), bytes(row[1])))
    return out


def test_rotation_cli(runtime: Runtime, owner_engine: Engine) -> None:
    from app import create_app

    app = create_app(runtime.settings)
    result = app.test_cli_runner().invoke(args=["keys", "status"])
    assert result.exit_code == 0, result.output
    assert f"current KEK: {runtime.keys.kek.current_id()}" in result.output
    assert "(current)" in result.output
    result = app.test_cli_runner().invoke(args=["keys", "rotate"])
    assert result.exit_code == 0, result.output
    assert "re-wrapped 0 data keys" in result.output
    app.extensions["tandem"].close()
