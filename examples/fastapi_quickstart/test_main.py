from fastapi.testclient import TestClient
from main import app


def test_analytics_waits_for_consent():
    client = TestClient(app)  # keeps cookies between requests, like a browser
    assert "_ga" not in client.get("/").cookies
    client.post("/_consent", data={"accept": "analytics"})  # what the banner does
    assert "_ga" in client.get("/").cookies
