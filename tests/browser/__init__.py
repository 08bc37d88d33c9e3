"""Real-browser tests (Chromium via Selenium) against the demo site."""
