from pathlib import Path

from fastapi import FastAPI, Response
from fastapi.responses import HTMLResponse

from consentguard import ConsentGuard, Registry
from consentguard.asgi import ConsentMiddleware
from consentguard.fastapi import CurrentDecision

registry = Registry.load(Path(__file__).with_name("cookies.toml"))
guard = ConsentGuard(registry, secret_key="change-me")
app = FastAPI()
app.add_middleware(ConsentMiddleware, guard=guard)  # last add_middleware: the outermost

PAGE = """<!doctype html>
<title>consentguard quick start</title>
<h1>Hello</h1>
{analytics}
<script src="/_consent/banner.js" defer></script>
"""


@app.get("/", response_class=HTMLResponse)
def index(response: Response, decision: CurrentDecision):
    # Removed by consentguard until the visitor accepts analytics.
    response.set_cookie("_ga", "GA1.1.123", secure=True, samesite="lax")
    script = '<script>console.log("analytics may run");</script>'
    return PAGE.format(analytics=script if decision.allows("analytics") else "")
