"""Dashboard accounts: argon2id hashes (re-hashed when the profile changes), session
cookies (flags, rotation, sign-out), CSRF, invitations, resets, TOTP, timeouts."""

from __future__ import annotations

import uuid
from http.cookies import SimpleCookie

import pyotp
import pytest
from rq import Queue
from sqlalchemy import select, text

from auth.email_keys import InvalidEmail
from auth.passwords import PROFILES, Passwords
from auth.resets import request_reset
from auth.token_use import issue
from models.accounts import Account, AccountToken
from tests.accounts_fixtures import PASSWORD, AccountsWorld, FakeClock, accounts_app, https_client
from tests.support.mail import deliver_queued_mail, mail_to

NEW_PASSWORD = "another long passphrase 42"


def _account(world: AccountsWorld, tenant_id: uuid.UUID, account_id: uuid.UUID) -> Account:
    with world.service.runtime.db.tenant_session(tenant_id) as session:
        return session.get(Account, account_id)


def _session_cookie(response) -> SimpleCookie:
    cookie = SimpleCookie()
    for header in response.headers.getlist("Set-Cookie"):
        cookie.load(header)
    return cookie


def test_passwords_are_argon2id_and_rehashed_when_the_parameters_change(
    world: AccountsWorld, new_tenant
) -> None:
    default = Passwords()
    assert default.hash("x" * 12).startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert PROFILES["owasp"].memory_cost >= 19456 and PROFILES["owasp"].time_cost >= 2
    assert world.service.passwords.profile == "test"  # TANDEM_ENV=test
    tenant = new_tenant()
    email, account_id = world.new_account(tenant)
    old = Passwords("owasp").hash(PASSWORD)
    with world.service.runtime.db.tenant_session(tenant) as session:
        session.get(Account, account_id).password_hash = old
    assert world.login(email).status_code == 200
    stored = _account(world, tenant, account_id).password_hash
    assert stored != old and stored.startswith("$argon2id$v=19$m=8192,t=1,p=1$")
    assert world.service.passwords.verify(stored, PASSWORD) == (True, False)
    assert PASSWORD not in stored


def test_the_session_cookie_is_secure_http_only_lax_and_rotates_on_login(
    world: AccountsWorld, new_tenant
) -> None:
    email, _ = world.new_account(new_tenant())
    first = world.login(email)
    assert first.status_code == 200
    (morsel,) = _session_cookie(first).values()
    assert morsel.key == "__Host-tandem_session"
    assert morsel["secure"] and morsel["httponly"] and morsel["samesite"] == "Lax"
    assert morsel["path"] == "/" and not morsel["domain"]
    assert world.client.get("/api/auth/session").status_code == 200
    old_client = https_client(world.app)
    old_client.set_cookie(morsel.key, morsel.value)
    assert old_client.get("/api/auth/session").status_code == 200

    second = world.login(email)  # signing in again, with the first cookie
    (rotated,) = _session_cookie(second).values()
    assert rotated.value != morsel.value
    assert old_client.get("/api/auth/session").status_code == 401  # the old id is dead
    assert world.client.get("/api/auth/session").get_json()["role"] == "member"


def test_plain_http_development_drops_only_the_secure_flag(settings, new_tenant) -> None:
    app = accounts_app(settings, base_url="http://127.0.0.1:8000")
    local = AccountsWorld(app, app.test_client(), FakeClock())
    email, _ = local.new_account(new_tenant())
    (morsel,) = _session_cookie(local.login(email)).values()
    assert morsel.key == "tandem_session" and not morsel["secure"] and morsel["httponly"]
    assert morsel["samesite"] == "Lax"
    app.extensions["tandem"].close()


def test_logout_destroys_the_session(world: AccountsWorld, new_tenant) -> None:
    email, _ = world.new_account(new_tenant())
    client, csrf = world.signed_in(email)
    cookie = client.get_cookie("__Host-tandem_session")
    response = client.post("/api/auth/logout", headers={"X-CSRF-Token": csrf})
    assert response.status_code == 204
    replay = https_client(world.app)
    replay.set_cookie(cookie.key, cookie.value)
    assert replay.get("/api/auth/session").status_code == 401
    assert client.get("/api/auth/session").status_code == 401


def test_writes_without_or_with_a_wrong_csrf_token_are_refused(
    world: AccountsWorld, new_tenant
) -> None:
    email, _ = world.new_account(new_tenant())
    client, csrf = world.signed_in(email)
    for headers in ({}, {"X-CSRF-Token": "x" * len(csrf)}, {"X-CSRF-Token": csrf[:-1]}):
        response = client.post("/api/auth/logout", headers=headers)
        assert response.status_code == 403, headers
        assert "CSRF" in response.get_json()["message"]
    assert client.get("/api/auth/session").status_code == 200  # still signed in
    assert client.post("/api/auth/logout", data={"csrf_token": csrf}).status_code == 204


def test_an_invitation_works_once_and_expires(world: AccountsWorld, new_tenant) -> None:
    from auth.invitations import create_invitation

    tenant = new_tenant()
    token, _, email = create_invitation(world.service, tenant, "Ada@Example.COM ", "viewer", "t")
    assert email == "ada@example.com"
    weak = world.client.post(
        "/api/auth/invitations/accept", json={"token": token, "password": "short"}
    )
    assert weak.status_code == 400 and "12 characters" in weak.get_json()["message"]
    body = {"token": token, "password": PASSWORD}
    accepted = world.client.post("/api/auth/invitations/accept", json=body)
    assert accepted.status_code == 201 and accepted.get_json()["role"] == "viewer"
    again = world.client.post("/api/auth/invitations/accept", json=body)
    assert again.status_code == 400 and "already used" in again.get_json()["message"]
    assert world.login("ada@example.com").status_code == 200

    late, _, _ = create_invitation(world.service, tenant, "late@example.com", "member", "t")
    world.clock.advance(days=7, seconds=1)
    expired = world.client.post("/api/auth/invitations/accept", json={**body, "token": late})
    assert expired.status_code == 400 and "expired" in expired.get_json()["message"]
    for bad in ("", "nonsense", f"{uuid.uuid4().hex}.{'A' * 43}"):
        refused = world.client.post("/api/auth/invitations/accept", json={**body, "token": bad})
        assert refused.status_code == 400, bad


def test_an_address_has_an_account_in_one_workspace_only(world: AccountsWorld, new_tenant) -> None:
    from auth.invitations import create_invitation

    email, _ = world.new_account(new_tenant())
    token, _, _ = create_invitation(world.service, new_tenant(), email, "member", "t")
    clash = world.client.post(
        "/api/auth/invitations/accept", json={"token": token, "password": PASSWORD}
    )
    assert clash.status_code == 409 and "already has" in clash.get_json()["message"]


def _reset_token(world: AccountsWorld, tenant: uuid.UUID, account_id: uuid.UUID) -> str:
    from auth.token_use import RESET_LIFETIME

    with world.service.runtime.db.tenant_session(tenant) as session:
        token, _ = issue(
            world.service, session, "password_reset", RESET_LIFETIME, "self", account_id=account_id
        )
    return token


def test_a_reset_link_works_once_expires_and_ends_every_session(
    world: AccountsWorld, new_tenant
) -> None:
    tenant = new_tenant()
    email, account_id = world.new_account(tenant)
    client, _ = world.signed_in(email)
    token, spare = _reset_token(world, tenant, account_id), _reset_token(world, tenant, account_id)
    body = {"token": token, "password": NEW_PASSWORD}
    assert world.client.post("/api/auth/reset/complete", json=body).status_code == 204
    assert client.get("/api/auth/session").status_code == 401  # sessions destroyed
    other = world.client.post("/api/auth/reset/complete", json={**body, "token": spare})
    assert other.status_code == 400  # the other open link of the account is retired
    assert world.login(email).status_code == 401
    assert world.login(email, NEW_PASSWORD).status_code == 200
    again = world.client.post("/api/auth/reset/complete", json={**body, "password": PASSWORD})
    assert again.status_code == 400 and "already used" in again.get_json()["message"]

    stale = _reset_token(world, tenant, account_id)
    world.clock.advance(hours=1, seconds=1)
    expired = world.client.post("/api/auth/reset/complete", json={**body, "token": stale})
    assert expired.status_code == 400 and "expired" in expired.get_json()["message"]
    assert world.login(email, NEW_PASSWORD).status_code == 200


def test_asking_for_a_reset_never_says_whether_the_address_has_an_account(
    world: AccountsWorld, new_tenant, clean_mail
) -> None:
    tenant = new_tenant()
    email, _ = world.new_account(tenant)
    known = world.client.post("/api/auth/reset", json={"email": email})
    unknown = world.client.post("/api/auth/reset", json={"email": "nobody@example.com"})
    assert known.status_code == unknown.status_code == 202
    assert known.get_json() == unknown.get_json()
    queued = Queue("maintenance", connection=world.service.runtime.redis).jobs
    assert [job.func_name for job in queued] == ["auth.reset_jobs.send_reset_link_job"] * 2
    assert all(len(job.args[0]) == 64 and "@" not in str(job.args) for job in queued)
    deliver_queued_mail(clean_mail)
    (mail,) = mail_to(clean_mail, email)
    assert mail["Subject"] == "Reset your Tandem password"
    link = next(w for w in mail.get_content().split() if "/auth/reset/complete?token=" in w)
    token = link.split("token=", 1)[1]
    body = {"token": token, "password": NEW_PASSWORD}
    assert world.client.post("/api/auth/reset/complete", json=body).status_code == 204
    assert not mail_to(clean_mail, "nobody@example.com")
    with world.service.runtime.db.tenant_session(tenant) as session:
        stored = session.execute(select(AccountToken.token_hash)).scalars().all()
    assert stored and all(token.encode() not in bytes(h) and len(h) == 32 for h in stored)


def test_a_second_factor_is_required_once_enabled(world: AccountsWorld, new_tenant) -> None:
    tenant = new_tenant()
    email, account_id = world.new_account(tenant)
    client, csrf = world.signed_in(email)
    headers = {"X-CSRF-Token": csrf}
    setup = client.post("/api/auth/totp/setup", headers=headers)
    assert setup.status_code == 200
    secret = pyotp.parse_uri(setup.get_json()["provisioning_uri"]).secret
    wrong = client.post("/api/auth/totp/enable", json={"code": "000000"}, headers=headers)
    assert wrong.status_code == 400
    assert world.login(email).status_code == 200  # not enabled yet
    code = pyotp.TOTP(secret).at(world.clock())
    assert (
        client.post("/api/auth/totp/enable", json={"code": code}, headers=headers).status_code
        == 204
    )

    needs = world.login(email)
    assert needs.status_code == 401 and "authenticator" in needs.get_json()["message"]
    bad = world.login(email, totp="123456" if code != "123456" else "654321")
    assert bad.status_code == 401 and bad.get_json()["message"].startswith("the email address")
    world.clock.advance(seconds=30)  # the next code; the enrolment's one is used up
    fresh = pyotp.TOTP(secret).at(world.clock())
    assert world.login(email, totp=fresh).status_code == 200
    replayed = world.login(email, totp=fresh)  # the same code again, within its window
    assert replayed.status_code == 401, "a code is accepted once"
    assert replayed.get_json() == bad.get_json()
    account = _account(world, tenant, account_id)
    assert account.totp_enabled and secret.encode() not in bytes(account.totp_secret)
    with world.service.runtime.db.tenant_session(tenant) as session:
        owner = session.execute(
            text("SELECT owner_kind FROM data_keys WHERE id = :k"), {"k": account.data_key_id}
        ).scalar_one()
    assert owner == "account"


def test_sessions_end_after_the_idle_and_the_absolute_timeout(
    world: AccountsWorld, new_tenant
) -> None:
    email, _ = world.new_account(new_tenant())
    client, _ = world.signed_in(email)
    world.clock.advance(minutes=29)
    assert client.get("/api/auth/session").status_code == 200
    world.clock.advance(minutes=31)
    assert client.get("/api/auth/session").status_code == 401  # idle for more than 30 min

    client, _ = world.signed_in(email)
    for _ in range(12 * 3):  # kept busy every 20 minutes, 12 hours long
        assert client.get("/api/auth/session").status_code == 200
        world.clock.advance(minutes=20)
    assert client.get("/api/auth/session").status_code == 401  # absolute limit


def test_the_sign_in_form_needs_its_csrf_token_and_sets_the_session(
    world: AccountsWorld, new_tenant
) -> None:
    email, _ = world.new_account(new_tenant())
    page = world.client.get("/auth/login")
    assert page.status_code == 200 and b'id="login-form"' in page.data
    token = page.data.split(b'name="csrf_token" value="')[1].split(b'"')[0].decode()
    form = {"email": email, "password": PASSWORD, "csrf_token": token}
    forged = https_client(world.app).post("/auth/login", data=form)
    assert forged.status_code == 400  # no form cookie: a cross-site post
    wrong = world.client.post("/auth/login", data={**form, "password": "wrong password!!"})
    assert wrong.status_code == 401 and b'id="form-error"' in wrong.data
    signed_in = world.client.post("/auth/login", data=form)
    assert signed_in.status_code == 303 and signed_in.headers["Location"] == "/auth/account"
    assert world.client.get("/auth/account").status_code == 200
    off_site = world.client.post("/auth/login", data={**form, "next": "//evil.test/x"})
    assert off_site.headers["Location"] == "/auth/account"


def test_an_operator_invites_the_first_owner_from_the_cli(
    world: AccountsWorld, new_tenant, clean_mail
) -> None:
    tenant = new_tenant()
    runner = world.app.test_cli_runner()
    result = runner.invoke(
        args=["accounts", "invite-owner", "--workspace", str(tenant), "--email", "boss@example.com"]
    )
    assert result.exit_code == 0, result.output
    missing = runner.invoke(
        args=[
            "accounts",
            "invite-owner",
            "--workspace",
            str(uuid.uuid4()),
            "--email",
            "x@example.com",
        ]
    )
    assert missing.exit_code != 0 and "no workspace" in missing.output
    deliver_queued_mail(clean_mail)
    (mail,) = mail_to(clean_mail, "boss@example.com")
    link = next(w for w in mail.get_content().split() if "/auth/accept?token=" in w)
    token = link.split("token=", 1)[1]
    accepted = world.client.post(
        "/api/auth/invitations/accept", json={"token": token, "password": PASSWORD}
    )
    assert accepted.status_code == 201 and accepted.get_json()["role"] == "owner"


def test_request_reset_of_a_malformed_address_is_a_400_and_queues_nothing(
    world: AccountsWorld,
) -> None:
    queued = len(world.service.runtime.queue("maintenance"))
    with pytest.raises(InvalidEmail):
        request_reset(world.service, 42)
    for body in ({"email": "no"}, {}, None):
        refused = world.client.post("/api/auth/reset", json=body)
        assert refused.status_code == 400, body
        assert refused.get_json()["message"].startswith("email: ")
    assert len(world.service.runtime.queue("maintenance")) == queued


@pytest.mark.parametrize("body", [None, [], {"email": 1, "password": 2}, {"email": "a@b.cd"}])
def test_malformed_sign_ins_are_refused_in_plain_words(world: AccountsWorld, body) -> None:
    response = world.client.post("/api/auth/login", json=body)
    assert response.status_code == 401
    assert response.get_json()["message"].startswith("the email address")


def test_account_settings_are_validated_in_plain_words() -> None:
    from config import ConfigError, load_settings

    base = {"DATABASE_URL": "postgresql://app@127.0.0.1/tandem", "TANDEM_ENV": "development"}
    assert load_settings(base).password_hash_profile == "rfc9106-low-memory"
    assert load_settings({**base, "TANDEM_ENV": "test"}).password_hash_profile == "test"
    production = {
        **base,
        "TANDEM_ENV": "production",
        "TANDEM_BASE_URL": "https://tandem.example.com",
        "TANDEM_SECRET_KEY": "s" * 40,
        "TANDEM_KEK_KEYS": "k1=" + "A" * 43 + "=",
    }
    assert load_settings(production).password_hash_profile == "rfc9106-low-memory"
    for extra, words in (
        ({"PASSWORD_HASH_PROFILE": "md5"}, "PASSWORD_HASH_PROFILE must be one of"),
        ({"AUTH_RATE_LIMIT_IP": "lots"}, "AUTH_RATE_LIMIT_IP must look like"),
        ({"AUTH_RATE_LIMIT_ACCOUNT": "5 per fortnight"}, "AUTH_RATE_LIMIT_ACCOUNT must look"),
        ({"SESSION_IDLE_MINUTES": "0"}, "SESSION_IDLE_MINUTES must be at least 1"),
        ({"SESSION_IDLE_MINUTES": "900"}, "must not exceed SESSION_ABSOLUTE_HOURS"),
        ({"TRUSTED_PROXIES": "two"}, "TRUSTED_PROXIES must be a whole number"),
    ):
        with pytest.raises(ConfigError, match=words):
            load_settings({**base, **extra})
    with pytest.raises(ConfigError, match="too weak for production"):
        load_settings({**production, "PASSWORD_HASH_PROFILE": "test"})


def _form_token(page) -> str:
    return page.data.split(b'name="csrf_token" value="')[1].split(b'"')[0].decode()


def test_the_invitation_and_reset_forms_work_in_a_browser_way(
    world: AccountsWorld, new_tenant
) -> None:
    from auth.invitations import create_invitation

    tenant = new_tenant()
    token, _, email = create_invitation(world.service, tenant, "form@example.com", "member", "t")
    page = world.client.get(f"/auth/accept?token={token}")
    assert page.status_code == 200 and b'id="accept-form"' in page.data
    assert page.headers["Referrer-Policy"] == "no-referrer"  # the URL holds the token
    form = {"token": token, "password": PASSWORD, "csrf_token": _form_token(page)}
    done = world.client.post("/auth/accept", data=form)
    assert done.status_code == 200 and b'id="form-notice"' in done.data
    again = world.client.post("/auth/accept", data=form)
    assert again.status_code == 400 and b"already used" in again.data

    asked = world.client.get("/auth/reset")
    sent = world.client.post("/auth/reset", data={"email": email, "csrf_token": _form_token(asked)})
    assert sent.status_code == 202 and b'id="form-notice"' in sent.data
    with world.service.runtime.db.tenant_session(tenant) as session:
        account_id = session.execute(select(Account.id)).scalar_one()
    reset = _reset_token(world, tenant, account_id)
    page = world.client.get(f"/auth/reset/complete?token={reset}")
    assert b'id="reset-complete-form"' in page.data
    weak = {"token": reset, "password": "short", "csrf_token": _form_token(page)}
    assert world.client.post("/auth/reset/complete", data=weak).status_code == 400
    good = {**weak, "password": NEW_PASSWORD}
    assert world.client.post("/auth/reset/complete", data=good).status_code == 200
    assert world.login(email, NEW_PASSWORD).status_code == 200
