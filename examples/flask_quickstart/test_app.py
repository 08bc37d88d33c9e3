from app import app


def test_analytics_waits_for_consent():
    client = app.test_client()  # keeps cookies between requests, like a browser
    assert not any(c.startswith("_ga=") for c in client.get("/").headers.getlist("Set-Cookie"))
    client.post("/_consent", data={"accept": "analytics"})  # what the banner does
    assert any(c.startswith("_ga=") for c in client.get("/").headers.getlist("Set-Cookie"))
