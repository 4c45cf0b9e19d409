"""Email: the file backend writes real RFC 5322 files, console is refused in production,
SES is called over real HTTP with SigV4, failed deliveries are retried by RQ, and logs
never carry an address or a body."""

from __future__ import annotations

import io
import json
import logging
import stat
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest
from rq import Queue
from rq.job import Job, JobStatus
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from compliance.notice_recipients import set_contact_email, workspace_recipients
from config import ConfigError, load_settings
from mailer import InvalidAddress, Message, check_address, send_mail
from mailer.backends import ConsoleMailer, FileMailer, build_mailer
from mailer.queue import QUEUE, RETRY_INTERVALS
from runtime import Runtime
from tests.support.http_server import serving
from tests.support.mail import deliver_queued_mail, delivered_mail, mail_files

SENDER = "Tandem <no-reply@tandem.example>"
ADDRESS = "ops-lead@customer.example"
BODY = "The secret plan: nothing personal in the logs."
BASE = {"DATABASE_URL": "postgresql://app@127.0.0.1/x"}


def _message(**overrides: Any) -> Message:
    fields: dict[str, Any] = {
        "to": (ADDRESS,),
        "subject": "Workspace notice",
        "text": BODY,
        "kind": "test_notice",
    }
    return Message(**{**fields, **overrides})


def test_the_file_backend_writes_a_parseable_private_eml(tmp_path: Path) -> None:
    directory = tmp_path / "mail"
    before = datetime.now(UTC).replace(microsecond=0)
    FileMailer(directory, SENDER).send(_message(text="Grüße,\nline two\n"))
    (path,) = directory.iterdir()
    assert path.suffix == ".eml" and "test_notice" in path.name
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    mail = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert mail["From"] == SENDER
    assert mail["To"] == ADDRESS
    assert mail["Subject"] == "Workspace notice"
    assert str(mail["Message-ID"]).startswith("<") and "@tandem.example>" in mail["Message-ID"]
    assert before <= parsedate_to_datetime(mail["Date"]) <= datetime.now(UTC)
    assert mail.get_content_type() == "text/plain"
    assert mail.get_content() == "Grüße,\nline two\n"


def test_the_console_backend_prints_and_is_refused_in_production() -> None:
    out = io.StringIO()
    ConsoleMailer(SENDER, stream=out).send(_message())
    assert f"To: {ADDRESS}" in out.getvalue() and BODY in out.getvalue()
    assert load_settings({**BASE, "MAIL_BACKEND": "console"}).mail_backend == "console"
    production = {
        **BASE,
        "TANDEM_ENV": "production",
        "TANDEM_KEK_KEYS": "k=" + "A" * 44,
        "TANDEM_BASE_URL": "https://t.example",
        "TANDEM_SECRET_KEY": "x" * 40,
    }
    assert load_settings(production).mail_backend == "file"
    with pytest.raises(ConfigError, match=r"console .*not in production"):
        load_settings({**production, "MAIL_BACKEND": "console"})


def test_mail_settings_are_validated_with_one_line_messages(tmp_path: Path) -> None:
    defaults = load_settings(BASE)
    assert defaults.mail_backend == "file" and defaults.mail_dir.endswith(".run/mail")
    assert load_settings({**BASE, "MAIL_DIR": str(tmp_path)}).mail_dir == str(tmp_path)
    ses = {**BASE, "MAIL_BACKEND": "ses", "MAIL_SES_REGION": "eu-west-1", "MAIL_FROM": SENDER}
    assert load_settings(ses).mail_ses_region == "eu-west-1"
    (tmp_path / "file").write_text("")
    for bad, named in (
        ({"MAIL_BACKEND": "smtp"}, "MAIL_BACKEND must be one of file, console, ses"),
        ({"MAIL_FROM": "not an address"}, "MAIL_FROM"),
        ({"MAIL_FROM": "a@b.example\nBcc: x@y.example"}, "MAIL_FROM"),
        ({"MAIL_DIR": str(tmp_path / "file")}, "MAIL_DIR must be a directory"),
        ({**ses, "MAIL_SES_REGION": ""}, "MAIL_SES_REGION"),
        ({**ses, "MAIL_FROM": ""}, "MAIL_FROM: an address or domain verified in SES"),
        ({**ses, "MAIL_SES_ENDPOINT": "ftp://x"}, "MAIL_SES_ENDPOINT"),
    ):
        with pytest.raises(ConfigError, match=named) as raised:
            load_settings({**BASE, **bad})
        assert "\n" not in str(raised.value)


def test_messages_refuse_bad_addresses_and_header_injection() -> None:
    assert check_address("  Jo.Doe+x@Example.COM ") == "Jo.Doe+x@example.com"
    for bad in (
        "",
        "jo",
        "jo@",
        "@x.example",
        "jo@x",
        "jo@@x.example",
        "jo@x..example",
        "jo x@x.example",
        "jo@x.example\nBcc: y@x.example",
        "Jo <jo@x.example>",
        ".jo@x.example",
        "a" * 65 + "@x.example",
        "jo@" + "a" * 250 + ".example",
        None,
    ):
        with pytest.raises(InvalidAddress) as raised:
            check_address(bad, "contact_email")
        assert "contact_email" in str(raised.value)
        assert bad is None or not bad.strip() or bad.strip() not in str(raised.value)
    for bad in (
        {"to": ()},
        {"to": ADDRESS},
        {"subject": "Hi\r\nBcc: x@y.example"},
        {"subject": ""},
        {"kind": "Has Spaces"},
        {"to": ("x@y.example\nBcc: z@y.example",)},
    ):
        with pytest.raises(ValueError):
            _message(**bad)
    assert ADDRESS not in repr(_message()) and BODY not in repr(_message())


@dataclass
class CapturedSes:
    """A stand-in SES endpoint: records every request; answers each with the next
    status in ``statuses`` (then 200)."""

    statuses: list[int] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length)
        with self.lock:
            self.requests.append(
                {
                    "method": environ["REQUEST_METHOD"],
                    "path": environ["PATH_INFO"],
                    "authorization": environ.get("HTTP_AUTHORIZATION", ""),
                    "amz_date": environ.get("HTTP_X_AMZ_DATE", ""),
                    "body": json.loads(body or b"{}"),
                }
            )
            status = self.statuses.pop(0) if self.statuses else 200
        if status == 200:
            start_response("200 OK", [("Content-Type", "application/json")])
            return [json.dumps({"MessageId": f"m-{len(self.requests)}"}).encode()]
        start_response(
            f"{status} Failing",
            [
                ("Content-Type", "application/json"),
                ("x-amzn-ErrorType", "TooManyRequestsException"),
            ],
        )
        return [json.dumps({"message": "slow down"}).encode()]


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Dummy credentials in the standard chain, and nothing else of the machine's AWS."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDTANDEMTEST")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "tandem-test-secret")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))


@pytest.fixture
def ses(
    aws_env: None, runtime: Runtime, clean_mail: Runtime
) -> Iterator[tuple[CapturedSes, Runtime]]:
    """A capture server, and a runtime whose settings send mail there through SES."""
    captured = CapturedSes()
    with serving(captured) as url:
        settings = replace(
            runtime.settings,
            mail_backend="ses",
            mail_from=SENDER,
            mail_ses_region="eu-west-1",
            mail_ses_endpoint=url,
        )
        yield captured, replace(runtime, settings=settings)


def test_the_ses_backend_sends_a_signed_simple_email(ses) -> None:
    captured, ses_runtime = ses
    mailer = build_mailer(ses_runtime.settings)
    assert mailer.name == "ses"
    mailer.send(_message(to=(ADDRESS, "second@customer.example")))
    (request,) = captured.requests
    assert request["method"] == "POST" and request["path"] == "/v2/email/outbound-emails"
    authorization = request["authorization"]
    assert authorization.startswith("AWS4-HMAC-SHA256 Credential=AKIDTANDEMTEST/")
    assert "/eu-west-1/ses/aws4_request" in authorization and "Signature=" in authorization
    assert request["amz_date"]
    body = request["body"]
    assert body["FromEmailAddress"] == SENDER
    assert body["Destination"]["ToAddresses"] == [ADDRESS, "second@customer.example"]
    simple = body["Content"]["Simple"]
    assert simple["Subject"]["Data"] == "Workspace notice"
    assert simple["Body"]["Text"]["Data"] == BODY
    assert body["EmailTags"] == [{"Name": "kind", "Value": "test_notice"}]


def test_a_failed_delivery_is_retried_by_rq_and_logs_no_address_or_body(
    ses, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    captured, ses_runtime = ses
    captured.statuses = [503]
    assert send_mail(ses_runtime, _message()) is True
    (job_id,) = Queue(QUEUE, connection=ses_runtime.redis).job_ids
    deliver_queued_mail(ses_runtime)

    job = Job.fetch(job_id, connection=ses_runtime.redis)
    assert job.get_status() == JobStatus.SCHEDULED, "failed once, scheduled for a retry"
    assert job.retries_left == len(RETRY_INTERVALS) - 1
    for shown in (repr(job.args), job.description, job.get_call_string()):
        assert ADDRESS not in shown and BODY not in shown, "RQ shows the kind and count only"
    assert len(captured.requests) == 1
    # The back-off is real (a minute); bring the retry forward instead of waiting.
    queue = Queue(QUEUE, connection=ses_runtime.redis)
    queue.scheduled_job_registry.schedule(job, datetime.now(UTC))
    deliver_queued_mail(ses_runtime, with_scheduler=True)

    assert len(captured.requests) == 2
    assert captured.requests[1]["body"]["Destination"]["ToAddresses"] == [ADDRESS]
    assert not Job.exists(job_id, connection=ses_runtime.redis), "gone once delivered"
    assert "deliver_mail(test_notice)" in caplog.text
    assert "TooManyRequestsException" in caplog.text or "503" in caplog.text
    assert "delivered to 1 recipient(s) via ses" in caplog.text
    for private in (ADDRESS, "customer.example", BODY, "Workspace notice"):
        assert private not in caplog.text


def test_send_mail_through_the_queue_writes_the_file(clean_mail: Runtime) -> None:
    runtime = clean_mail
    assert send_mail(runtime, _message(kind="queued_notice")) is True
    assert mail_files(runtime) == [], "nothing is sent before a worker runs the job"
    deliver_queued_mail(runtime)
    (mail,) = delivered_mail(runtime)
    assert mail["To"] == ADDRESS and mail.get_content().strip() == BODY
    assert Path(runtime.settings.mail_dir) == mail_files(runtime)[0].parent


def test_send_mail_does_not_fail_the_caller_when_redis_is_down(
    runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    from runtime import redis_client

    dead = replace(runtime, redis=redis_client("redis://127.0.0.1:1/0"))
    assert send_mail(dead, _message()) is False
    assert "not queued" in caplog.text and ADDRESS not in caplog.text


def test_the_contact_address_is_validated_and_audited_without_itself(
    runtime: Runtime, new_tenant, owner_engine
) -> None:
    tenant = new_tenant("contact")
    with runtime.db.tenant_session(tenant) as session:
        assert set_contact_email(session, " Admin@Customer.EXAMPLE ", "admin:7") == (
            "Admin@customer.example"
        )
        assert workspace_recipients(session) == ("Admin@customer.example",)
        with pytest.raises(ValueError, match="contact_email must be a plain email address"):
            set_contact_email(session, "admin@customer.example, other@x.example", "admin:7")
        assert set_contact_email(session, "Admin@customer.example", "admin:7")  # unchanged
        assert set_contact_email(session, None, "admin:7") is None
        assert workspace_recipients(session) == ()
        audited = session.execute(
            text(
                "SELECT details::text FROM audit_events "
                "WHERE action = 'workspace.contact_email' ORDER BY id"
            )
        ).scalars()
        details = [json.loads(d) for d in audited]
    assert details == [{"change": "set"}, {"change": "cleared"}]
    with owner_engine.begin() as connection, pytest.raises(IntegrityError):
        connection.execute(text("SELECT set_config('app.tenant_id', :t, true)"), {"t": str(tenant)})
        connection.execute(
            text("UPDATE tenants SET contact_email = :e WHERE id = :t"),
            {"e": "a@" + "b" * 250 + ".example", "t": tenant},
        )
