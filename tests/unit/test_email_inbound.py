"""channels.email.inbound and .html: real-world-shaped mail, built here byte for byte, read
into what the core stores. Pure: no server, no database."""

from __future__ import annotations

import base64
import email
import json
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY

import pytest

from callyard.channels.email import html as html_mod
from callyard.channels.email import inbound
from callyard.channels.email.errors import AttachmentTooLarge, TooManyAttachments
from callyard.channels.email.inbound import Limits, ingest_request, parse

LIMITS = Limits(max_attachments=100, max_attachment_bytes=1024 * 1024)


def crlf(text: str) -> bytes:
    return text.strip("\n").replace("\n", "\r\n").encode("ascii") + b"\r\n"


def test_multipart_alternative_from_a_webmail():
    raw = crlf("""
From: =?UTF-8?B?0J7Qu9GM0LPQsCDQn9C10YLRgNC+0LLQsA==?= <Olga@Example.RU>
To: support@shop.test
Subject: =?UTF-8?Q?=D0=93=D0=B4=D0=B5_=D0=B7=D0=B0=D0=BA=D0=B0=D0=B7=3F?=
Message-ID: <CAF=abc123@mail.gmail.com>
Date: Mon, 2 Mar 2026 09:00:00 +0300
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="000000000000b1"

--000000000000b1
Content-Type: text/plain; charset="UTF-8"
Content-Transfer-Encoding: base64

0JfQtNGA0LDQstGB0YLQstGD0LnRgtC1IQ==
--000000000000b1
Content-Type: text/html; charset="UTF-8"

<div dir="ltr">Hi <b>there</b><script>alert(1)</script><img src="https://t.example/pixel.gif"></div>
--000000000000b1--
""")
    parsed = parse(raw, LIMITS)
    assert parsed.sender == "olga@example.ru" and parsed.sender_name == "Ольга Петрова"
    assert parsed.reply_to == "olga@example.ru"
    assert parsed.subject == "Где заказ?"
    assert parsed.message_id == "<CAF=abc123@mail.gmail.com>"
    assert parsed.text == "Здравствуйте!"
    assert "<b>there</b>" in parsed.html and "script" not in parsed.html and "pixel" not in parsed.html
    assert parsed.auto is None and parsed.attachments == []
    request = ingest_request(parsed, recipient="support@shop.test", queue="support", acknowledge="#{number}")
    assert request["identity"] == {"kind": "email", "value": "olga@example.ru"}
    assert request["external_id"] == request["thread_key"] == "<CAF=abc123@mail.gmail.com>"
    assert request["routable"] is True and request["acknowledge"] == "#{number}"
    assert request["meta"]["recipient"] == "support@shop.test"


@pytest.mark.parametrize(
    ("charset", "text"),
    [
        ("koi8-r", "Добрый день, посылка не пришла."),
        ("windows-1251", "Добрый день, посылка не пришла."),
        ("iso-8859-5", "Добрый день."),
        ("iso-8859-1", "Grüße aus München, ça va?"),
        ("iso-8859-2", "Dzień dobry, żółć."),
        ("iso-8859-15", "Prix: 10 €"),
        ("utf-8", "Καλημέρα, 你好, 🙂"),
    ],
)
def test_every_charset_in_body_and_encoded_word_headers(charset: str, text: str):
    encoded_subject = f"=?{charset}?B?{base64.b64encode(text.encode(charset)).decode()}?="
    raw = (
        crlf(f"""
From: sender@example.org
To: support@shop.test
Subject: {encoded_subject}
Message-ID: <{charset}@example.org>
MIME-Version: 1.0
Content-Type: text/plain; charset={charset}
Content-Transfer-Encoding: 8bit
""")
        + b"\r\n"
        + text.encode(charset)
        + b"\r\n"
    )
    parsed = parse(raw, LIMITS)
    assert parsed.subject == text
    assert parsed.text == text


def test_a_reply_from_outlook_threads_and_carries_the_token():
    raw = crlf("""
From: "Ivanov, Ivan" <ivan@corp.example>
To: <support@shop.test>
Subject: RE: Re: Where is my order? [#17]
Message-ID: <AM0PR01MB1234@eurprd01.prod.outlook.com>
In-Reply-To: <callyard.5.9@shop.test>
References: <first@corp.example>
 <callyard.5.9@shop.test>
Thread-Index: AQHZ
Content-Type: text/plain; charset="us-ascii"

Thanks.

-----Original Message-----
From: support@shop.test
""")
    parsed = parse(raw, LIMITS)
    assert parsed.conversation == 17
    assert parsed.in_reply_to == "<callyard.5.9@shop.test>"
    assert parsed.references == ["<first@corp.example>", "<callyard.5.9@shop.test>"]
    assert parsed.thread_key == "<first@corp.example>"
    request = ingest_request(parsed, recipient="support@shop.test", queue="q", acknowledge=None)
    assert request["thread_refs"] == ["<first@corp.example>", "<callyard.5.9@shop.test>"]
    assert request["thread_hint"] == 17


def test_forwarded_message_winmail_and_inline_image():
    outer = EmailMessage()
    outer["From"] = "boss@example.com"
    outer["To"] = "support@shop.test"
    outer["Subject"] = "Fwd: complaint"
    outer["Message-ID"] = "<fwd@example.com>"
    outer.set_content("See below.")
    outer.add_alternative('<p>See below. <img src="cid:logo@x"></p>', subtype="html")
    outer.get_payload()[1].add_related(b"\x89PNG fake", "image", "png", cid="<logo@x>")
    inner = EmailMessage()
    inner["From"] = "angry@example.net"
    inner["Subject"] = "complaint"
    inner.set_content("I am not happy.")
    outer.add_attachment(inner)
    outer.add_attachment(
        b"\x78\x9f\x3e\x22tnef", maintype="application", subtype="ms-tnef", filename="winmail.dat"
    )
    outer.add_attachment(b"%PDF", maintype="application", subtype="pdf", filename="../../Счёт №5.pdf")
    parsed = parse(outer.as_bytes(), LIMITS)
    assert parsed.text == "See below."
    assert 'src="cid:logo@x"' in parsed.html
    names = [(a.filename, a.content_type, a.inline) for a in parsed.attachments]
    assert names == [
        ("part-1.png", "image/png", True),
        ("forwarded-2.eml", "message/rfc822", False),
        ("winmail.dat", "application/ms-tnef", False),
        ("Счёт _5.pdf", "application/pdf", False),
    ]
    assert parsed.attachments[0].content_id == "<logo@x>"
    assert b"I am not happy." in parsed.attachments[1].data


def test_html_only_mail_gets_a_text_rendering():
    raw = crlf("""
From: shop@example.com
To: support@shop.test
Subject: html
Message-ID: <h@example.com>
Content-Type: text/html; charset=utf-8

<html><head><style>p {color: red}</style></head><body><p>Line one</p><p>Line&nbsp;two</p></body></html>
""")
    parsed = parse(raw, LIMITS)
    assert parsed.text == "Line one\n\nLine two"
    assert "style" not in parsed.html


@pytest.mark.parametrize(
    ("headers", "kind"),
    [
        ("Auto-Submitted: auto-replied", "auto-reply"),
        ("Auto-Submitted: auto-generated", "auto-reply"),
        ("Precedence: bulk", "auto-reply"),
        ("X-Autoreply: yes", "auto-reply"),
        ("Subject: Out of Office: Where is my order?", "auto-reply"),
        ("Subject: Автоответ: заказ", "auto-reply"),
        ("Auto-Submitted: no", None),
    ],
)
def test_auto_replies_are_recognised(headers: str, kind: str | None):
    subject = "" if headers.startswith("Subject:") else "Subject: hello\n"
    raw = f"From: a@example.com\nTo: support@shop.test\n{subject}{headers}\nMessage-ID: <a@x>\n\nbody\n"
    parsed = parse(raw.replace("\n", "\r\n").encode("utf-8"), LIMITS, envelope_sender="a@example.com")
    assert parsed.auto == kind
    request = ingest_request(parsed, recipient="support@shop.test", queue="q", acknowledge="ack")
    assert request["routable"] is (kind is None)
    assert request["acknowledge"] == (None if kind else "ack")


def test_a_delivery_status_notification_is_a_bounce():
    raw = crlf("""
From: Mail Delivery System <MAILER-DAEMON@mx.example.com>
To: support@shop.test
Subject: Undelivered Mail Returned to Sender
Message-ID: <dsn@mx.example.com>
Content-Type: multipart/report; report-type=delivery-status; boundary="b"

--b
Content-Type: text/plain

The mail could not be delivered.
--b
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.com
Final-Recipient: rfc822; nobody@example.com
Action: failed
Status: 5.1.1
--b--
""")
    parsed = parse(raw, LIMITS, envelope_sender="")
    assert parsed.auto == "bounce"
    assert parsed.text == "The mail could not be delivered."


def test_the_null_sender_is_automatic():
    raw = crlf("From: someone@example.com\nSubject: hi\n\nhello")
    assert parse(raw, LIMITS, envelope_sender="").auto == "auto-reply"
    assert parse(raw, LIMITS, envelope_sender="someone@example.com").auto is None


def test_broken_mail_is_read_as_well_as_it_can_be():
    # no headers at all, no Message-ID: an id is made from the bytes, stable across resends
    bare = parse(b"just a line of text\r\n", LIMITS, envelope_sender="x@example.com")
    assert bare.sender == "x@example.com" and bare.text == "just a line of text"
    assert bare.message_id == parse(b"just a line of text\r\n", LIMITS).message_id
    assert bare.message_id.endswith("@no-message-id.callyard>")
    # raw 8-bit bytes in headers (cp1251 and utf-8), an unknown charset, an unclosed boundary
    junk = (
        b"From: \xc8\xe2\xe0\xed <ivan@example.ru>\r\nTo: support@shop.test\r\n"
        b"Subject: \xd0\x97\xd0\xb0\xd0\xba\xd0\xb0\xd0\xb7 \xff\xfe\r\n"
        b"Message-ID: <junk@example.ru>\r\n"
        b'Content-Type: multipart/mixed; boundary="never"\r\n\r\n'
        b"--never\r\nContent-Type: text/plain; charset=x-no-such-charset\r\n\r\n"
        b"\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82\r\n"
    )
    parsed = parse(junk, LIMITS)
    assert parsed.sender == "ivan@example.ru"
    assert parsed.sender_name == "Иван"
    assert parsed.subject == "Заказ \ufffd\ufffd"  # UTF-8 with two stray bytes stays UTF-8
    assert parsed.text == "Привет"
    request = ingest_request(parsed, recipient="support@shop.test", queue="q", acknowledge=None)
    json.dumps(request)  # everything is text that can travel as JSON: no surrogates
    # an empty message still has a body to show
    empty = parse(crlf("From: a@b.example\nSubject: \nMessage-ID: <e@x>\n\n"), LIMITS)
    assert empty.body() == "(empty message)"


def test_limits_refuse_with_a_clear_smtp_reply():
    many = EmailMessage()
    many["From"] = "a@example.com"
    many.set_content("files")
    for i in range(101):
        many.add_attachment(b"x", maintype="application", subtype="octet-stream", filename=f"{i}.bin")
    with pytest.raises(TooManyAttachments) as too_many:
        parse(many.as_bytes(), LIMITS)
    assert too_many.value.reply.startswith("552 5.3.4")
    big = EmailMessage()
    big["From"] = "a@example.com"
    big.set_content("big")
    big.add_attachment(b"x" * (LIMITS.max_attachment_bytes + 1), maintype="application", subtype="zip")
    with pytest.raises(AttachmentTooLarge) as too_large:
        parse(big.as_bytes(), LIMITS)
    assert too_large.value.reply.startswith("552 5.3.4")


def test_sanitiser_keeps_mail_formatting_and_drops_active_content():
    dirty = (
        '<table><tr><td colspan="2" onclick="x()">cell</td></tr></table>'
        '<a href="javascript:alert(1)">bad</a><a href="https://ok.example/">ok</a>'
        '<iframe src="https://evil.example"></iframe><form><input></form>'
        '<img src="cid:part1" onerror="alert(1)"><p style="position:fixed">styled</p>'
    )
    clean = html_mod.sanitise(dirty)
    assert '<td colspan="2">cell</td>' in clean
    assert "javascript" not in clean and "onclick" not in clean and "onerror" not in clean
    assert 'href="https://ok.example/"' in clean and "iframe" not in clean and "input" not in clean
    assert 'src="cid:part1"' in clean and "position" not in clean


def test_the_contact_is_who_wrote_and_answers_go_to_reply_to():
    raw = crlf("""
From: Olga <olga@example.ru>
Reply-To: orders@example.ru
Subject: x
Message-ID: <rt@example.ru>

hello
""")
    parsed = parse(raw, LIMITS)
    request = ingest_request(parsed, recipient="support@shop.test", queue="q", acknowledge=None)
    assert request["identity"] == {"kind": "email", "value": "olga@example.ru"}
    assert request["meta"]["reply_to"] == "orders@example.ru"


def test_headers_read_through_the_shared_parse_are_those_of_the_standard_policy():
    """The gateway's policy keeps each parsed header for the next read (of this message or
    another); what a message reads must stay what ``policy.default`` would give it."""
    import email as email_mod
    from email import policy as std_policy

    from callyard.channels.email import inbound

    raw = crlf("""
From: =?UTF-8?B?0J7Qu9GM0LPQsA==?= <olga@example.ru>
To: support@shop.test, "Sales, Team" <sales@shop.test>
Subject: Files
Message-ID: <files-1@example.ru>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="b1"

--b1
Content-Type: text/plain; charset="koi8-r"

hello
--b1
Content-Type: application/pdf; name="=?UTF-8?B?0YHRh9C10YIucGRm?="
Content-Disposition: attachment; filename*=UTF-8''%D1%81%D1%87%D0%B5%D1%82.pdf
Content-Transfer-Encoding: base64

JVBERi0=
--b1--
""")
    ours = email_mod.message_from_bytes(raw, policy=inbound.POLICY)
    stock = email_mod.message_from_bytes(raw, policy=std_policy.default)
    for _ in range(2):  # the second read comes from what the first one kept
        for mine, theirs in zip(ours.walk(), stock.walk(), strict=True):
            assert mine.get_content_type() == theirs.get_content_type()
            assert mine.get_content_charset() == theirs.get_content_charset()
            assert mine.get_content_disposition() == theirs.get_content_disposition()
            assert mine.get_filename() == theirs.get_filename()
        for name in ("From", "To", "Subject", "Content-Type"):
            assert str(ours[name]) == str(stock[name])
            assert type(ours[name]).__mro__[1:] == type(stock[name]).__mro__[1:]
    assert ours["To"].addresses == stock["To"].addresses
    first = parse(raw, LIMITS)
    assert parse(raw, LIMITS) == first
    assert first.attachments[0].filename == "счет.pdf"
    assert first.to == ["support@shop.test", "sales@shop.test"]


# -- long base64 runs are handed to the parser folded (inbound.read_message) ------------------

_RUN = b"\r\n".join([base64.b64encode(bytes(range(57)) * 1)] * 400)  # 400 lines of 76


def _forwarded_with_a_file() -> bytes:
    inner = EmailMessage()
    inner["From"] = "a@example.com"
    inner.set_content("inner")
    inner.add_attachment(bytes(range(256)) * 100, maintype="application", subtype="pdf", filename="x.pdf")
    outer = EmailMessage()
    outer["From"] = "b@example.com"
    outer.set_content("see below")
    outer.add_attachment(inner)
    return outer.as_bytes(policy=SMTP_POLICY)


FOLDED_CASES = {
    "attachment": _forwarded_with_a_file,
    "no final line end": lambda: _forwarded_with_a_file().rstrip(b"\r\n"),
    "runs in the preamble and epilogue": lambda: (
        b"From: x@example.com\r\nContent-Type: multipart/mixed; boundary=zz\r\n\r\n"
        + _RUN
        + b"\r\n--zz\r\nContent-Type: text/plain\r\n\r\nhi\r\n--zz--\r\n\r\n"
        + _RUN
        + b"\r\n"
    ),
    "a single-part base64 body": lambda: (
        b"From: x@example.com\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\n" + _RUN
    ),
    "an enclosed message of base64 lines only": lambda: (
        b"From: x@example.com\r\nContent-Type: message/rfc822\r\n\r\n" + _RUN + b"\r\n"
    ),
    "a run with an empty line in it": lambda: (
        b"From: x@example.com\r\nContent-Type: message/rfc822\r\n\r\n"
        + _RUN
        + b"\r\n\r\nFrom: y@example.com\r\nSubject: hidden\r\n\r\n"
        + _RUN
    ),
    "blocks of a delivery status: an empty line parts them": lambda: (
        b"From: x@example.com\r\nContent-Type: message/delivery-status\r\n\r\n" + _RUN + b"\r\n\r\n" + _RUN
    ),
    "blocks of a delivery status parted by bare line feeds": lambda: (
        b"From: x@example.com\r\nContent-Type: message/delivery-status\r\n\r\n"
        + _RUN
        + b"\r\n"
        + _RUN.replace(b"\r\n", b"\n")
        + b"\n\n"
        + _RUN.replace(b"\r\n", b"\n")
    ),
    "a run with a header-like line in it": lambda: (
        b"From: x@example.com\r\nContent-Type: message/rfc822\r\n\r\n"
        + _RUN
        + b"\r\nSubject: s\r\n\r\nbody\r\n"
    ),
    "bare line feeds": lambda: (
        b"From: x@example.com\nContent-Type: multipart/mixed; boundary=zz\n\n--zz\n"
        b"Content-Type: application/pdf\nContent-Transfer-Encoding: base64\n\n"
        + _RUN.replace(b"\r\n", b"\n")
        + b"\n--zz--\n"
    ),
}


@pytest.mark.parametrize("case", FOLDED_CASES)
def test_folding_base64_runs_reads_the_same_message(case: str):
    """read_message hands long base64 runs to the parser as one line each: the message read
    must be the one the standard parser reads, part for part, defect for defect."""
    raw = FOLDED_CASES[case]()
    plain = email.message_from_bytes(raw, policy=inbound.POLICY)
    folded = inbound.read_message(raw)
    assert folded.as_bytes() == plain.as_bytes()
    assert [p.get_content_type() for p in folded.walk()] == [p.get_content_type() for p in plain.walk()]
    assert [p.get_payload(decode=True) for p in folded.walk()] == [
        p.get_payload(decode=True) for p in plain.walk()
    ]
    assert [repr(p.defects) for p in folded.walk()] == [repr(p.defects) for p in plain.walk()]
    assert [(p.preamble, p.epilogue) for p in folded.walk()] == [
        (p.preamble, p.epilogue) for p in plain.walk()
    ]


def test_a_long_base64_run_is_folded(monkeypatch: pytest.MonkeyPatch):
    """The parser is given fewer lines: otherwise the test above could pass with no folding."""
    fed: list[bytes] = []
    real = email.message_from_bytes
    monkeypatch.setattr(
        inbound.email, "message_from_bytes", lambda raw, **kw: fed.append(raw) or real(raw, **kw)
    )
    data = bytes(range(256)) * 400
    msg = EmailMessage()
    msg["From"] = "a@example.com"
    msg.set_content("a file")
    msg.add_attachment(data, maintype="application", subtype="pdf", filename="x.pdf")
    raw = msg.as_bytes(policy=SMTP_POLICY)
    parsed = parse(raw, LIMITS)
    assert len(fed) == 1 and fed[0].count(b"\n") < raw.count(b"\n") / 10
    assert parsed.attachments[0].data == data
