from flask import Flask, render_template

from consentguard.flask import ConsentGuard

app = Flask(__name__)
app.config.update(SECRET_KEY="change-me", CONSENTGUARD_REGISTRY="cookies.toml")  # beside app.py
ConsentGuard(app)  # wraps app.wsgi_app (after any other wrapper) and serves /_consent


@app.get("/")
def index():
    response = app.make_response(render_template("index.html"))
    # Removed by consentguard until the visitor accepts analytics.
    response.set_cookie("_ga", "GA1.1.123", secure=True, samesite="Lax")
    return response
