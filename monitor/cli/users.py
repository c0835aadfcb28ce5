"""`vigil user add|list|disable|enable|password`: who may sign in to the dashboard, kept in the store.

Passwords are asked twice on a terminal, or read as one line from standard input otherwise (for scripts),
and never appear on the command line, where other users of the machine could see them.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from datetime import datetime
from typing import Any, TextIO

from monitor.cli.options import Parser, UsageError, common_db, open_store
from monitor.config import operator_name
from monitor.timeutil import local_zone


def add_user_commands(sub: Any) -> None:
    from monitor.auth.roles import Role

    user = sub.add_parser("user", help="add, list or disable the people who may sign in to the dashboard")
    actions = user.add_subparsers(dest="user_action", required=True, metavar="ACTION", parser_class=Parser)
    add = actions.add_parser("add", help="add a user (asks for the password)")
    add.set_defaults(handler=cmd_user_add)
    add.add_argument("name", help="sign-in name: letters, digits, '.', '_', '@', '-'")
    add.add_argument("--role", required=True, choices=[r.value for r in Role],
                     help="nurse: watch, acknowledge, events, notes; clinician: also limits, set-up, overrides; "
                          "tester: watch and replay controls; admin: users and the audit page")
    common_db(add)
    listing = actions.add_parser("list", help="list users, their roles and whether they can sign in")
    listing.set_defaults(handler=cmd_user_list)
    common_db(listing)
    disable = actions.add_parser("disable", help="stop a user signing in; ends their open sign-ins")
    disable.set_defaults(handler=cmd_user_disable)
    disable.add_argument("name")
    common_db(disable)
    enable = actions.add_parser("enable", help="let a disabled user sign in again")
    enable.set_defaults(handler=cmd_user_enable)
    enable.add_argument("name")
    common_db(enable)
    password = actions.add_parser("password", help="set a new password (asks for it); ends the user's sign-ins")
    password.set_defaults(handler=cmd_user_password)
    password.add_argument("name")
    common_db(password)


def read_password(stream: TextIO | None = None) -> str:
    """Twice, unechoed, on a terminal; one line from standard input otherwise."""
    stream = stream or sys.stdin
    if stream.isatty():
        first = getpass.getpass("Password: ")
        if getpass.getpass("Password again: ") != first:
            raise UsageError("the two passwords differ; nothing changed")
        return first
    line = stream.readline()
    if not line:
        raise UsageError("no password on standard input (one line expected); nothing changed")
    return line.rstrip("\r\n")


def _by() -> str:
    return f"{operator_name()} (command line)"


def _accounts(args: argparse.Namespace, create: bool = False) -> Any:
    """The accounts in `--db`; only `user add` may create the database."""
    from monitor.auth.accounts import Accounts

    return Accounts(open_store(args, create=create))


def _one_line(action: Any) -> Any:
    """Run a change; a refused one (bad name, short password, no such user) becomes the one-line error."""
    from monitor.auth.accounts import AccountError
    from monitor.auth.passwords import PasswordError

    try:
        return action()
    except (AccountError, PasswordError) as exc:
        raise UsageError(f"{exc}; nothing changed") from None


def cmd_user_add(args: argparse.Namespace) -> int:
    from monitor.auth.accounts import check_name

    _one_line(lambda: check_name(args.name))  # before the database or a password
    accounts = _accounts(args, create=True)
    if accounts.exists(args.name):
        raise UsageError(f"a user named {args.name} already exists; nothing changed")
    password = read_password()
    _one_line(lambda: accounts.add(args.name, args.role, password, by=_by()))
    print(f"added {args.name} ({args.role})")
    return 0


def cmd_user_password(args: argparse.Namespace) -> int:
    accounts = _accounts(args)
    password = read_password()
    _one_line(lambda: accounts.set_password(args.name, password, by=_by()))
    print(f"new password set for {args.name}; their open sign-ins have ended")
    return 0


def cmd_user_disable(args: argparse.Namespace) -> int:
    _one_line(lambda: _accounts(args).disable(args.name, by=_by()))
    print(f"disabled {args.name}; their open sign-ins have ended")
    return 0


def cmd_user_enable(args: argparse.Namespace) -> int:
    _one_line(lambda: _accounts(args).enable(args.name, by=_by()))
    print(f"enabled {args.name}")
    return 0


def _when(t: datetime | None) -> str:
    return "never" if t is None else t.astimezone(local_zone()).strftime("%Y-%m-%d %H:%M")


def cmd_user_list(args: argparse.Namespace) -> int:
    users = _accounts(args).listing()
    if not users:
        print("no users yet: add one with `vigil user add NAME --role clinician`")
        return 0
    rows = [("NAME", "ROLE", "STATUS", "CREATED", "LAST SIGN-IN")]
    for u in users:
        rows.append((u.name, u.role, u.status(_when), _when(u.created), _when(u.last_sign_in)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    return 0
