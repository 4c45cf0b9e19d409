"""Email behind one small interface.

    from mailer import Message, send_mail
    send_mail(runtime, Message(to=("a@example.com",), subject="…", text="…", kind="…"))

``send_mail`` queues the message (mailer/queue.py); a worker delivers it with the
backend ``MAIL_BACKEND`` names (mailer/backends.py). Logs carry the kind and the number
of recipients only, never an address or the body.
"""

from mailer.addresses import InvalidAddress, check_address
from mailer.backends import Mailer, build_mailer
from mailer.message import Message
from mailer.queue import send_mail

__all__ = ["InvalidAddress", "Mailer", "Message", "build_mailer", "check_address", "send_mail"]
