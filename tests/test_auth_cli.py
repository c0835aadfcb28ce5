"""`vigil user …` and the serving rules: sign-in on by default, --no-auth and the demo only on this computer,
HTTPS off it. Real subprocesses; the terminal prompt runs on a real pseudo-terminal."""

from __future__ import annotations

import fcntl
import os
import select
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest
import requests
import trustme
from support import ROOT, free_port, run_vigil

from monitor.auth.accounts import Accounts
from monitor.store import Store

PASSWORD = "correct horse battery"


def user(db: Path, *args: str, password: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "monitor.cli", "user", *args, "--db", str(db)], cwd=ROOT,
                          input=password, capture_output=True, text=True, timeout=60)


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    return result.stderr


def test_user_add_list_disable_and_password(tmp_path: Path) -> None:
    db = tmp_path / "v.db"
    assert f"no database at {db}" in one_line_error(user(db, "list")) and not db.exists()
    Store(db).close()
    assert user(db, "list").stdout.startswith("no users yet")
    added = user(db, "add", "dr-ben", "--role", "clinician", password=PASSWORD + "\n")
    assert added.returncode == 0 and added.stdout == "added dr-ben (clinician)\n"
    assert user(db, "add", "nurse-ana", "--role", "nurse", password=PASSWORD + "\r\n").returncode == 0
    assert "already exists; nothing changed" in one_line_error(user(db, "add", "dr-ben", "--role", "nurse",
                                                                     password=PASSWORD + "\n"))
    assert "at least 8 characters" in one_line_error(user(db, "add", "x", "--role", "nurse", password="short\n"))
    assert "no password on standard input" in one_line_error(user(db, "add", "y", "--role", "nurse", password=""))
    assert "invalid choice" in user(db, "add", "z", "--role", "root", password=PASSWORD + "\n").stderr
    assert Accounts(Store(db)).sign_in("nurse-ana", PASSWORD).user.role == "nurse"  # CR/LF is not the password

    assert user(db, "disable", "nurse-ana").returncode == 0
    assert user(db, "enable", "nurse-ana").returncode == 0 and user(db, "disable", "nurse-ana").returncode == 0
    assert "nurse-ana is already disabled" in one_line_error(user(db, "disable", "nurse-ana"))
    assert "no user named ghost" in one_line_error(user(db, "disable", "ghost"))
    listing = user(db, "list").stdout.splitlines()
    assert listing[0].split() == ["NAME", "ROLE", "STATUS", "CREATED", "LAST", "SIGN-IN"]
    assert listing[1].split()[:3] == ["dr-ben", "clinician", "active"]
    assert listing[2].split()[:3] == ["nurse-ana", "nurse", "disabled"]
    assert user(db, "password", "dr-ben", password="a new passphrase\n").returncode == 0
    assert Accounts(Store(db)).sign_in("dr-ben", "a new passphrase").user.name == "dr-ben"
    audit = [(e.action, e.target) for e in Store(db).audit.entries() if e.action.startswith("user")]
    assert audit == [("user_add", "dr-ben"), ("user_add", "nurse-ana"), ("user_disable", "nurse-ana"),
                     ("user_enable", "nurse-ana"), ("user_disable", "nurse-ana"), ("user_password", "dr-ben")]


def _on_terminal(db: Path, answers: list[str]) -> tuple[int, str]:
    """`vigil user add` with a pseudo-terminal as its controlling terminal, answering each prompt in turn."""
    master, slave = os.openpty()

    def controlling_terminal() -> None:
        os.setsid()
        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)

    process = subprocess.Popen(
        [sys.executable, "-m", "monitor.cli", "user", "add", "dr-ben", "--role", "clinician", "--db", str(db)],
        cwd=ROOT, stdin=slave, stdout=slave, stderr=slave, preexec_fn=controlling_terminal, close_fds=True)
    os.close(slave)
    seen, pending = b"", list(answers)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(master, 1024)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            seen += chunk
            if pending and seen.count(b"Password") > len(answers) - len(pending):
                os.write(master, pending.pop(0).encode() + b"\n")
        elif process.poll() is not None:
            break
    os.close(master)
    return process.wait(10), seen.decode(errors="replace")


def test_on_a_terminal_the_password_is_asked_twice_and_never_echoed(tmp_path: Path) -> None:
    db = tmp_path / "v.db"
    code, output = _on_terminal(db, [PASSWORD, "a different one"])
    assert code == 2 and "the two passwords differ; nothing changed" in output
    assert Accounts(Store(db)).listing() == []
    code, output = _on_terminal(db, [PASSWORD, PASSWORD])
    assert code == 0 and "Password again:" in output and "added dr-ben (clinician)" in output
    assert PASSWORD not in output
    assert Accounts(Store(db)).sign_in("dr-ben", PASSWORD).user.role == "clinician"


@pytest.mark.parametrize(("args", "expected"), [
    (("--host", "0.0.0.0"), "refusing to serve on 0.0.0.0 over plain HTTP"),
    (("--host", "0.0.0.0", "--no-auth"), "refusing to serve on 0.0.0.0 without sign-in: --no-auth is only for "
                                         "this computer"),
    ((), "no one can sign in yet: add a user first"),
])
def test_serving_refusals_are_one_line_and_change_nothing(tmp_path: Path, sample_data: Path, args: tuple,
                                                          expected: str) -> None:
    db = tmp_path / "v.db"
    result = run_vigil("replay", sample_data / "iv_ketamine.csv", "--db", db, "--port", "0", *args)
    assert expected in one_line_error(result)
    assert Store(db).sessions.listing() == []  # refused before the replay made a session


@pytest.mark.parametrize("minutes", ["0.5", "0", "1441", "soon"])
def test_an_idle_timeout_outside_1_to_1440_minutes_is_refused(tmp_path: Path, minutes: str) -> None:
    result = run_vigil("dashboard", "--db", tmp_path / "v.db", "--idle-timeout", minutes)
    assert result.returncode == 2 and "--idle-timeout must be minutes from 1 to 1440" in result.stderr


def test_the_demo_refuses_any_address_but_this_computer(tmp_path: Path) -> None:
    result = run_vigil("demo", "--host", "0.0.0.0", "--db", tmp_path / "v.db")
    assert "the demo has no sign-in and is only for this computer" in one_line_error(result)


def test_https_with_a_certificate_marks_cookies_secure(tmp_path: Path) -> None:
    authority = trustme.CA()  # a test certificate authority, and a certificate for 127.0.0.1 it signed
    cert, key, ca = tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "ca.pem"
    issued = authority.issue_cert("127.0.0.1")
    issued.cert_chain_pems[0].write_to_path(str(cert))
    issued.private_key_pem.write_to_path(str(key))
    authority.cert_pem.write_to_path(str(ca))
    db = tmp_path / "v.db"
    store = Store(db)
    sid = store.sessions.create("tls", "live")
    Accounts(store).add("dr-ben", "clinician", PASSWORD, by="test")
    assert "--tls-key" in one_line_error(run_vigil("dashboard", "--db", db, "--tls-cert", cert))
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "monitor.cli", "dashboard", "--db", str(db), "--session", str(sid), "--port", str(port),
         "--tls-cert", str(cert), "--tls-key", str(key)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert "Vigil dashboard: https://127.0.0.1:" in process.stdout.readline()
        http = requests.Session()
        page = http.get(f"https://127.0.0.1:{port}/login", timeout=10, verify=str(ca))
        assert page.status_code == 200 and page.headers["Strict-Transport-Security"].startswith("max-age=")
        token = page.text.split('name="_csrf_token" value="')[1].split('"')[0]
        signed = http.post(f"https://127.0.0.1:{port}/login", allow_redirects=False, timeout=30, verify=str(ca),
                           data={"name": "dr-ben", "password": PASSWORD, "_csrf_token": token},
                           headers={"Referer": f"https://127.0.0.1:{port}/login"})
        assert signed.status_code == 302
        cookies = signed.raw.headers.getlist("Set-Cookie")
        assert all("Secure" in c for c in cookies) and any(c.startswith("vigil_session=") for c in cookies)
    finally:
        process.terminate()
        process.wait(10)
