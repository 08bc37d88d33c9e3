"""Consent statistics from any store's records: a text table and an HTML page.

::

    from consentguard.log import SQLAlchemyConsentLog
    from consentguard.log.stats import compute, format_table, render_html

    stats = compute(SQLAlchemyConsentLog(url).records(since=datetime(2026, 1, 1)))
    print(format_table(stats))
    Path("consent.html").write_text(render_html(stats), encoding="utf-8")
"""

from __future__ import annotations

from ._report import render_html as render_html
from ._stats import Stats as Stats
from ._stats import Tally as Tally
from ._stats import VersionSeen as VersionSeen
from ._stats import compute as compute
from ._stats import format_table as format_table

__all__ = ["Stats", "Tally", "VersionSeen", "compute", "format_table", "render_html"]
