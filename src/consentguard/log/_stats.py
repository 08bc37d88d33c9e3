"""What visitors chose, day by day: the numbers behind ``consentguard log stats``."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime

from ._record import ACTIONS, Action, ConsentRecord, utc

#: How people read each action.
ACTION_LABELS: dict[Action, str] = {
    "accept_all": "accept all", "reject_all": "reject all", "custom": "customise",
    "withdraw": "withdraw",
}


@dataclass
class Tally:
    """The choices of one day (or of the whole period).

    :param choices: how many choices were recorded.
    :param actions: action → number of choices.
    :param accepted: category → choices that accepted it.
    :param offered: category → choices that accepted or refused it.
    :param gpc: choices made with ``Sec-GPC: 1``.
    :param versions: registry version → choices made under it (``None``: no version).
    """

    choices: int = 0
    actions: Counter[Action] = field(default_factory=Counter)
    accepted: Counter[str] = field(default_factory=Counter)
    offered: Counter[str] = field(default_factory=Counter)
    gpc: int = 0
    versions: Counter[str | None] = field(default_factory=Counter)

    def add(self, record: ConsentRecord) -> None:
        self.choices += 1
        self.actions[record.action] += 1
        self.accepted.update(set(record.accepted))
        self.offered.update(set(record.accepted) | set(record.refused))
        self.gpc += record.gpc
        self.versions[record.registry_version] += 1

    def share(self, action: Action) -> float:
        """The share of choices that were ``action`` (0 when there were none)."""
        return self.actions[action] / self.choices if self.choices else 0.0

    def acceptance(self, category: str) -> float | None:
        """The share of choices about ``category`` that accepted it (None: never asked)."""
        offered = self.offered[category]
        return self.accepted[category] / offered if offered else None

    @property
    def gpc_share(self) -> float:
        return self.gpc / self.choices if self.choices else 0.0


@dataclass(frozen=True)
class VersionSeen:
    """A registry version and when choices were made under it."""

    version: str | None
    first: datetime
    last: datetime
    choices: int


@dataclass
class Stats:
    """Consent statistics over a period: one :class:`Tally` per UTC day and in total."""

    days: dict[date, Tally] = field(default_factory=dict)
    total: Tally = field(default_factory=Tally)
    versions: list[VersionSeen] = field(default_factory=list)

    @property
    def categories(self) -> list[str]:
        """Every optional category a choice was about, by name."""
        return sorted(self.total.offered)

    @property
    def first(self) -> date | None:
        return min(self.days) if self.days else None

    @property
    def last(self) -> date | None:
        return max(self.days) if self.days else None


def compute(records: Iterable[ConsentRecord]) -> Stats:
    """Tally ``records`` (any order) per UTC day."""
    stats = Stats()
    seen: dict[str | None, list[datetime]] = {}
    counts: Counter[str | None] = Counter()
    for record in records:
        moment = utc(record.timestamp)
        stats.days.setdefault(moment.date(), Tally()).add(record)
        stats.total.add(record)
        span = seen.setdefault(record.registry_version, [moment, moment])
        span[0], span[1] = min(span[0], moment), max(span[1], moment)
        counts[record.registry_version] += 1
    stats.days = dict(sorted(stats.days.items()))
    stats.versions = sorted(
        (VersionSeen(version, first, last, counts[version])
         for version, (first, last) in seen.items()),
        key=lambda v: (v.first, v.version or ""))
    return stats


def percent(share: float | None) -> str:
    """``0.375`` → ``"37.5%"``; ``None`` → ``"–"``."""
    return "–" if share is None else f"{100 * share:.1f}%"


def version_name(version: str | None) -> str:
    return version if version is not None else "(none)"


def format_table(stats: Stats) -> str:
    """The statistics as a plain-text table: one row per day, then the whole period."""
    if not stats.total.choices:
        return "No consent choices recorded in this period.\n"
    categories = stats.categories
    header = ["day", "choices", *(ACTION_LABELS[a] for a in ACTIONS), *categories, "GPC",
              "registry versions"]
    rows = [[day.isoformat(), *_cells(tally, categories)] for day, tally in stats.days.items()]
    rows.append(["all", *_cells(stats.total, categories)])
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header) - 1)]

    def line(row: list[str]) -> str:
        left = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:-1], widths[1:],
                                                                         strict=True)]
        return "  ".join([*left, row[-1]]).rstrip()

    out = [f"Consent choices {stats.first} to {stats.last} (UTC days): "
           f"{stats.total.choices} choice(s)",
           "Actions are shares of the day's choices; categories are acceptance rates.", "",
           line(header), line(["-" * w for w in widths] + ["-" * len(header[-1])])]
    out += [line(row) for row in rows[:-1]]
    out += [line(["-" * w for w in widths] + ["-" * len(header[-1])]), line(rows[-1]), ""]
    out.append("Registry versions seen:")
    for seen in stats.versions:
        out.append(f"  {version_name(seen.version)}: {seen.choices} choice(s), "
                   f"{seen.first:%Y-%m-%d %H:%M} to {seen.last:%Y-%m-%d %H:%M} UTC")
    return "\n".join(out) + "\n"


def _cells(tally: Tally, categories: list[str]) -> list[str]:
    return [str(tally.choices), *(percent(tally.share(a)) for a in ACTIONS),
            *(percent(tally.acceptance(c)) for c in categories), percent(tally.gpc_share),
            ", ".join(version_name(v) for v in sorted(tally.versions, key=version_name))]
