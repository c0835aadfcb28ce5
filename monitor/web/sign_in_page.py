"""The sign-in page: plain HTML from the server (no script), so it works before any Dash code loads."""

from flask import render_template_string

from monitor.web import urls

SIGN_IN_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Vigil — sign in</title>
<style>
  body { background: #101418; color: #e8edf2; font-family: system-ui, sans-serif; display: flex;
         justify-content: center; align-items: center; min-height: 100vh; margin: 0; }
  form { background: #1b2128; padding: 2rem 2.5rem; border-radius: 8px; width: 22rem; }
  h1 { margin: 0 0 1.5rem; font-size: 1.6rem; } h1 span { color: #8fa3b8; font-weight: normal; }
  label { display: block; margin: 1rem 0 0.3rem; font-size: 1.05rem; }
  input[type=text], input[type=password] { width: 100%; box-sizing: border-box; padding: 0.6rem;
         font-size: 1.1rem; border-radius: 4px; border: 1px solid #3a4552; background: #0d1115; color: #e8edf2; }
  button { margin-top: 1.5rem; width: 100%; padding: 0.7rem; font-size: 1.1rem; border: 0; border-radius: 4px;
           background: #2f6fd1; color: #fff; cursor: pointer; }
  .message { margin-top: 1rem; padding: 0.6rem; border-radius: 4px; background: #5a1d1d; color: #ffd7d7; }
  .disclaimer { margin-top: 1.5rem; font-size: 0.8rem; color: #8fa3b8; }
</style>
</head>
<body>
<form method="post" action="{{ action }}">
  <h1>Vigil <span>sign in</span></h1>
  <input type="hidden" name="_csrf_token" value="{{ csrf_token() }}">
  <input type="hidden" name="next" value="{{ next }}">
  <label for="name">Name</label>
  <input type="text" id="name" name="name" value="{{ name }}" autocomplete="username" autofocus required>
  <label for="password">Password</label>
  <input type="password" id="password" name="password" autocomplete="current-password" required>
  {% if message %}<div class="message" id="sign-in-message" role="alert">{{ message }}</div>{% endif %}
  <button type="submit" id="sign-in">Sign in</button>
  <div class="disclaimer">Decision support only — not a medical device.</div>
</form>
</body>
</html>
"""


def sign_in_page(target: str, message: str = "", name: str = "") -> str:
    """The page, leading to `target` once signed in; `message` says why the last attempt was refused."""
    return render_template_string(SIGN_IN_PAGE, action=urls.SIGN_IN, next=target, message=message, name=name)
