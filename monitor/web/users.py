"""The users page (`urls.USERS`): the admin adds people, sets a new password, or disables an account.

The same `Accounts` operations as `vigil user`, audited in the admin's name. The page and its callbacks
need the `users` permission (the guard refuses the page itself with 403). A refused change (bad name,
short password, the two passwords differ) says why and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import tzinfo

import dash_mantine_components as dmc
import flask
from dash import Dash, Input, Output, State, html, no_update

from monitor.auth.accounts import AccountError, Accounts, UserListing
from monitor.auth.passwords import PasswordError
from monitor.auth.roles import Permission, Role
from monitor.store import Store
from monitor.web import urls
from monitor.web.auth import current_actor, require
from monitor.web.grids import dark_grid, selected_field
from monitor.web.pages import page_app, page_header

COLUMNS = [
    {"field": "name", "headerName": "Name", "width": 180},
    {"field": "role", "headerName": "Role", "width": 120},
    {"field": "status", "headerName": "Status", "width": 220},
    {"field": "created", "headerName": "Added", "width": 170},
    {"field": "created_by", "headerName": "Added by", "flex": 1},
    {"field": "last", "headerName": "Last sign-in", "width": 170},
]
# What each change answers with (`change` in `create_users_app`), and the fields it reads.
CHANGE_OUTPUTS = [Output(component, prop, allow_duplicate=True) for component, prop in (
    ("users-message", "children"), ("users-grid", "rowData"), ("user-password", "value"),
    ("user-password-again", "value"))]
FIELDS = (State("user-name", "value"), State("user-role", "value"), State("user-password", "value"),
          State("user-password-again", "value"))


def new_password(first: str | None, again: str | None) -> str:
    if (first or "") != (again or ""):
        raise PasswordError("the two passwords differ")
    return first or ""


def user_rows(users: list[UserListing], tz: tzinfo) -> list[dict]:
    def when(t) -> str:
        return "never" if t is None else t.astimezone(tz).strftime("%Y-%m-%d %H:%M")

    return [
        {"id": u.name, "name": u.name, "role": u.role, "created": when(u.created), "created_by": u.created_by,
         "last": when(u.last_sign_in), "status": u.status(when)}
        for u in users
    ]


def users_view(rows: list[dict]) -> dmc.MantineProvider:
    password = {"size": "sm", "w": 200, "autoComplete": "new-password"}
    return dmc.MantineProvider(forceColorScheme="dark", children=html.Div(className="history-view", children=[
        page_header("Users"),
        dark_grid("users-grid", COLUMNS, rows,
                  rowSelection={"mode": "singleRow", "checkboxes": False, "enableClickSelection": True}),
        html.Div(className="audit-filters", children=[
            dmc.TextInput(id="user-name", label="Name", size="sm", w=200),
            dmc.Select(id="user-role", label="Role", data=[r.value for r in Role], size="sm", w=150,
                       comboboxProps={"withinPortal": False}),
            dmc.PasswordInput(id="user-password", label="Password", **password),
            dmc.PasswordInput(id="user-password-again", label="Password again", **password),
            dmc.Button("Add user", id="user-add", n_clicks=0, color="blue"),
            dmc.Button("Set password", id="user-set-password", n_clicks=0, color="gray"),
            dmc.Button("Disable", id="user-disable", n_clicks=0, color="red", variant="outline"),
        ]),
        html.Div("", id="users-message", className="users-message", role="status"),
        html.Div("Set password and Disable act on the name typed above (select a row to fill it in). "
                 "Either ends that user's open sign-ins.", className="history-disclaimer"),
    ]))


def create_users_app(server: flask.Flask, store: Store, tz: tzinfo) -> Dash:
    """Mount the users page at `urls.USERS` on `server` (the bed view's Flask app)."""
    accounts = Accounts(store)
    app = page_app(server, urls.USERS, "users")
    app.layout = lambda: users_view(user_rows(accounts.listing(), tz))

    @app.callback(Output("user-name", "value"), Output("user-role", "value"), Input("users-grid", "selectedRows"),
                  prevent_initial_call=True)
    @require(Permission.USERS)
    def pick(selected: list[dict] | None) -> tuple:
        if not selected:
            return no_update, no_update
        return selected_field(selected, "name", str), selected_field(selected, "role", str)

    def change(action: Callable[[str], str]) -> tuple:
        """Run one change in the admin's name; (message, the grid afresh, cleared password fields)."""
        try:
            message = action(current_actor().name)
        except (AccountError, PasswordError) as exc:
            return f"Not changed: {exc}", no_update, no_update, no_update
        return message, user_rows(accounts.listing(), tz), "", ""

    @app.callback(*CHANGE_OUTPUTS, Input("user-add", "n_clicks"), *FIELDS, prevent_initial_call=True)
    @require(Permission.USERS)
    def add(_n: int, name: str | None, role: str | None, first: str | None, again: str | None) -> tuple:
        def action(by: str) -> str:
            accounts.add((name or "").strip(), role or "", new_password(first, again), by=by)
            return f"Added {name} ({role})."
        return change(action)

    @app.callback(*CHANGE_OUTPUTS, Input("user-set-password", "n_clicks"), *FIELDS, prevent_initial_call=True)
    @require(Permission.USERS)
    def set_password(_n: int, name: str | None, _role: str | None, first: str | None, again: str | None) -> tuple:
        def action(by: str) -> str:
            accounts.set_password((name or "").strip(), new_password(first, again), by=by)
            return f"New password set for {name}; their open sign-ins have ended."
        return change(action)

    @app.callback(*CHANGE_OUTPUTS, Input("user-disable", "n_clicks"), State("user-name", "value"),
                  prevent_initial_call=True)
    @require(Permission.USERS)
    def disable(_n: int, name: str | None) -> tuple:
        def action(by: str) -> str:
            if (name or "").strip() == by:
                raise AccountError("you cannot disable your own account here")
            accounts.disable((name or "").strip(), by=by)
            return f"Disabled {name}; their open sign-ins have ended."
        return change(action)

    return app
