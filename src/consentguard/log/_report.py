"""The stats page: one self-contained HTML file with inline SVG charts.

No JavaScript, no web fonts, nothing fetched: it opens from a mail attachment or a shared
drive as well as from a server. Every chart has a title and a description for screen
readers, every bar a tooltip, and the numbers are also in tables below the charts.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import date, datetime, timezone
from html import escape

from ._record import ACTIONS, Action
from ._stats import ACTION_LABELS, Stats, Tally, percent, version_name

# Okabe–Ito colours: told apart with every common colour-vision deficiency.
COLOURS: dict[Action, str] = {
    "accept_all": "#009E73", "custom": "#0072B2", "reject_all": "#D55E00",
    "withdraw": "#8A8F98",
}
STACK: tuple[Action, ...] = ("accept_all", "custom", "reject_all", "withdraw")  # bottom up
CATEGORY_COLOUR = "#0072B2"
GPC_COLOUR = "#6E4FC1"

_CSS = """
:root { color-scheme: light; --ink: #1d2330; --muted: #5d6678; --line: #e3e7ee;
        --card: #ffffff; --page: #f4f6f9; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--page); color: var(--ink);
       font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue",
             Arial, sans-serif; }
main { max-width: 1040px; margin: 0 auto; padding: 36px 28px 48px; }
header { margin-bottom: 24px; }
.eyebrow { margin: 0; color: var(--muted); font-size: 13px; letter-spacing: .06em;
           text-transform: uppercase; }
h1 { margin: 4px 0 6px; font-size: 30px; line-height: 1.2; letter-spacing: -.01em; }
.period { margin: 0; color: var(--muted); }
h2 { margin: 0 0 4px; font-size: 17px; }
.note { margin: 0 0 14px; color: var(--muted); font-size: 13px; }
.kpis { display: grid; grid-template-columns: repeat(auto-fit, minmax(140px, 1fr));
        gap: 12px; margin: 0 0 16px; padding: 0; list-style: none; }
.kpi { background: var(--card); border-radius: 10px; padding: 14px 16px 12px;
       box-shadow: 0 1px 2px rgba(20, 30, 50, .06); border-top: 4px solid var(--accent); }
.kpi .label { color: var(--muted); font-size: 13px; }
.kpi .value { display: block; font-size: 26px; font-weight: 650;
              font-variant-numeric: tabular-nums; }
.kpi .sub { color: var(--muted); font-size: 12px; }
.card { background: var(--card); border-radius: 12px; padding: 20px 22px;
        box-shadow: 0 1px 2px rgba(20, 30, 50, .06); margin-bottom: 16px; }
.grid { display: grid; grid-template-columns: 3fr 2fr; gap: 16px; }
.grid .card { margin-bottom: 0; }
@media (max-width: 760px) { .grid { grid-template-columns: 1fr; } }
.grid + .card { margin-top: 16px; }
figure { margin: 0; overflow-x: auto; }
svg { display: block; width: 100%; height: auto; overflow: visible; }
/* On a phone the daily chart scrolls sideways rather than shrinking its labels away. */
svg.wide { min-width: 720px; }
@media (max-width: 760px) { svg.bars text { font-size: 16px; }
                            svg.bars text.count { font-size: 13px; } }
svg text { font-family: inherit; font-size: 12px; fill: var(--muted); }
svg .value { fill: var(--ink); font-weight: 600; }
svg .grid-line { stroke: var(--line); stroke-width: 1; }
.legend { display: flex; flex-wrap: wrap; gap: 6px 18px; margin: 12px 0 0; padding: 0;
          list-style: none; font-size: 13px; color: var(--muted); }
.legend span { display: inline-block; width: 11px; height: 11px; border-radius: 3px;
               margin-right: 6px; vertical-align: -1px; }
table { width: 100%; border-collapse: collapse; font-size: 13px;
        font-variant-numeric: tabular-nums; }
th, td { padding: 6px 8px; text-align: right; border-bottom: 1px solid var(--line);
         white-space: nowrap; }
th:first-child, td:first-child, td.text, th.text { text-align: left; }
th { color: var(--muted); font-weight: 600; }
tfoot td { font-weight: 650; border-bottom: 0; }
.scroll { overflow-x: auto; }
.empty { padding: 40px; text-align: center; color: var(--muted); }
footer { color: var(--muted); font-size: 12px; margin-top: 20px; }
"""


def render_html(stats: Stats, *, title: str = "Consent choices",
                generated: datetime | None = None) -> str:
    """The statistics as a self-contained HTML page (inline CSS and SVG, no script).

    :param stats: from :func:`~consentguard.log.stats.compute`.
    :param title: the page's heading.
    :param generated: the time printed in the footer (default: now).
    """
    moment = generated or datetime.now(timezone.utc)
    parts = [
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title>", f"<style>{_CSS}</style>", "</head>", "<body>",
        "<main>", "<header>", '<p class="eyebrow">Proof of consent · consentguard</p>',
        f"<h1>{escape(title)}</h1>", f'<p class="period">{_period(stats)}</p>', "</header>",
    ]
    if not stats.total.choices:
        parts.append('<section class="card empty">No consent choices were recorded in this '
                     "period.</section>")
    else:
        parts += _kpis(stats.total)
        parts += _card("What visitors chose, day by day",
                       "Share of each day's choices. The number above a bar is how many "
                       "choices were made that day.", _daily_chart(stats), _legend())
        parts.append('<div class="grid">')
        parts += _card("Acceptance by category",
                       "Of the choices that were about a category, the share that accepted "
                       "it (withdrawals count as refusals).", _category_chart(stats.total))
        parts += _card("Global Privacy Control",
                       "Share of each day's choices made by a browser sending Sec-GPC: 1; "
                       f"the dashed line is the average, {percent(stats.total.gpc_share)}.",
                       _gpc_chart(stats))
        parts.append("</div>")
        parts += _card("Registry versions", "The cookie declarations visitors were shown.",
                       _versions_table(stats))
        parts += _card("Day by day", "The numbers behind the charts.", _daily_table(stats))
    parts += [f"<footer>Generated {moment:%Y-%m-%d %H:%M} UTC by <code>consentguard log "
              "stats</code>. Days are UTC days.</footer>", "</main>", "</body>", "</html>"]
    return "\n".join(parts) + "\n"


def _period(stats: Stats) -> str:
    if stats.first is None or stats.last is None:
        return "No choices recorded"
    span = _long(stats.first) if stats.first == stats.last else (
        f"{_long(stats.first)} – {_long(stats.last)}")
    n = stats.total.choices
    return f"{span} · {n:,} choice{'s' if n != 1 else ''}"


def _long(day: date) -> str:
    return f"{day.day} {day:%B %Y}"


def _short(day: date) -> str:
    return f"{day:%b} {day.day}"


def _card(heading: str, note: str, *body: str) -> list[str]:
    return ['<section class="card">', f"<h2>{escape(heading)}</h2>",
            f'<p class="note">{escape(note)}</p>', *body, "</section>"]


def _kpis(total: Tally) -> list[str]:
    items = [("Choices", f"{total.choices:,}", "recorded", "#1D2330")]
    for action in ACTIONS:
        share = total.share(action)
        items.append((ACTION_LABELS[action].capitalize(), f"{100 * share:.0f}%",
                      f"{total.actions[action]:,} choices", COLOURS[action]))
    items.append(("With GPC", f"{100 * total.gpc_share:.0f}%", f"{total.gpc:,} choices",
                  GPC_COLOUR))
    out = ['<ul class="kpis">']
    for label, value, sub, colour in items:
        out.append(f'<li class="kpi" style="--accent: {colour}"><span class="label">'
                   f'{escape(label)}</span><span class="value">{value}</span>'
                   f'<span class="sub">{escape(sub)}</span></li>')
    out.append("</ul>")
    return out


def _legend() -> str:
    items = "".join(f'<li><span style="background: {COLOURS[a]}"></span>'
                    f"{escape(ACTION_LABELS[a].capitalize())}</li>" for a in STACK)
    return f'<ul class="legend" aria-hidden="true">{items}</ul>'


class _Svg:
    """An accessible inline SVG: a role, a title and a description, then the shapes."""

    def __init__(self, ident: str, width: int, height: int, title: str, desc: str,
                 *, cls: str = "") -> None:
        klass = f' class="{cls}"' if cls else ""
        self.parts = [
            f'<figure><svg{klass} viewBox="0 0 {width} {height}" role="img" '
            f'aria-labelledby="{ident}-t {ident}-d" xmlns="http://www.w3.org/2000/svg">',
            f'<title id="{ident}-t">{escape(title)}</title>',
            f'<desc id="{ident}-d">{escape(desc)}</desc>']

    def add(self, shape: str) -> None:
        self.parts.append(shape)

    def rect(self, x: float, y: float, w: float, h: float, fill: str, tip: str,
             radius: float = 0, extra: str = "") -> None:
        self.add(f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" '
                 f'rx="{radius}" fill="{fill}"{extra}><title>{escape(tip)}</title></rect>')

    def text(self, x: float, y: float, content: str, *, anchor: str = "middle",
             cls: str = "") -> None:
        klass = f' class="{cls}"' if cls else ""
        self.add(f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{klass}>'
                 f"{escape(content)}</text>")

    def done(self) -> str:
        return "\n".join([*self.parts, "</svg></figure>"])


def _daily_chart(stats: Stats) -> str:
    width, height, left, right, top, bottom = 960, 320, 44, 8, 42, 30
    plot_w, plot_h = width - left - right, height - top - bottom
    days = list(stats.days.items())
    slot = plot_w / len(days)
    bar = min(slot * 0.72, 44)
    total = stats.total
    svg = _Svg("daily", width, height, "Share of choices per day, by action",
               f"{len(days)} days. Over the period: " + ", ".join(
                   f"{ACTION_LABELS[a]} {percent(total.share(a))}" for a in STACK) + ".",
               cls="wide")
    for tick in (0, 25, 50, 75, 100):
        y = top + plot_h * (1 - tick / 100)
        svg.add(f'<line class="grid-line" x1="{left}" x2="{width - right}" y1="{y:.1f}" '
                f'y2="{y:.1f}"/>')
        svg.text(left - 8, y + 4, f"{tick}%", anchor="end")
    every = max(1, math.ceil(len(days) / (plot_w / 64)))
    for i, (day, tally) in enumerate(days):
        x = left + slot * i + (slot - bar) / 2
        y = top + plot_h
        for action in STACK:
            count = tally.actions[action]
            if not count:
                continue
            h = plot_h * count / tally.choices
            svg.rect(x, y - h, bar, h, COLOURS[action],
                     f"{day.isoformat()} · {ACTION_LABELS[action]}: {count} of "
                     f"{tally.choices} ({percent(count / tally.choices)})",
                     extra=' stroke="#fff" stroke-width="1"')
            y -= h
        if slot >= 22:
            svg.text(x + bar / 2, top - 7, f"{tally.choices:,}")
        if i % every == 0:
            svg.text(x + bar / 2, height - bottom + 18, _short(day))
    # Mark each new registry version: a change of declarations often moves the choices.
    index = {day: i for i, (day, _) in enumerate(days)}
    for seen in stats.versions[1:]:
        x = left + slot * index[seen.first.date()]
        svg.add(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top - 30}" y2="{top + plot_h}" '
                'stroke="#1D2330" stroke-width="1.2" stroke-dasharray="4 3"/>')
        svg.text(x + 5, top - 22, f"registry {version_name(seen.version)}", anchor="start",
                 cls="value")
    return svg.done()


def _category_chart(total: Tally) -> str:
    categories = sorted(total.offered)
    row, label_w, width = 52, 120, 440
    height = max(row * len(categories), row)
    bar_w = width - label_w - 56
    svg = _Svg("categories", width, height, "Acceptance rate per category", "; ".join(
        f"{c}: {percent(total.acceptance(c))} of {total.offered[c]} choices"
        for c in categories) or "No category was offered.", cls="bars")
    for i, category in enumerate(categories):
        rate = total.acceptance(category) or 0.0
        y = i * row + 6
        svg.text(0, y + 14, _clip(category, 18), anchor="start", cls="value")
        svg.text(0, y + 31, f"{total.accepted[category]:,} of {total.offered[category]:,}",
                 anchor="start", cls="count")
        svg.add(f'<rect x="{label_w}" y="{y + 6}" width="{bar_w}" height="18" rx="9" '
                f'fill="#E8ECF2"/>')
        svg.rect(label_w, y + 6, max(bar_w * rate, 18 if rate else 0), 18, CATEGORY_COLOUR,
                 f"{category}: accepted in {total.accepted[category]} of "
                 f"{total.offered[category]} choices ({percent(rate)})", radius=9)
        svg.text(width, y + 20, f"{100 * rate:.0f}%", anchor="end", cls="value")
    return svg.done()


def _gpc_chart(stats: Stats) -> str:
    width, height, left, top, bottom = 400, 200, 48, 10, 26
    plot_w, plot_h = width - left, height - top - bottom
    days = list(stats.days.items())
    peak = max(t.gpc_share for _, t in days)
    scale = next(s for s in (0.1, 0.25, 0.5, 1.0) if peak <= s)
    svg = _Svg("gpc", width, height, "Share of choices with Global Privacy Control, per day",
               f"Over the period {percent(stats.total.gpc_share)} of choices carried "
               f"Sec-GPC: 1; the highest day {percent(peak)}.")
    for tick in (0.0, scale / 2, scale):
        y = top + plot_h * (1 - tick / scale)
        svg.add(f'<line class="grid-line" x1="{left}" x2="{width}" y1="{y:.1f}" '
                f'y2="{y:.1f}"/>')
        svg.text(left - 6, y + 4, f"{100 * tick:.3g}%", anchor="end")
    slot = plot_w / len(days)
    bar = min(slot * 0.7, 30)
    for i, (day, tally) in enumerate(days):
        h = plot_h * tally.gpc_share / scale
        x = left + slot * i + (slot - bar) / 2
        if h:
            svg.rect(x, top + plot_h - h, bar, h, GPC_COLOUR,
                     f"{day.isoformat()} · GPC: {tally.gpc} of {tally.choices} "
                     f"({percent(tally.gpc_share)})", radius=2)
    average = top + plot_h * (1 - stats.total.gpc_share / scale)
    svg.add(f'<line x1="{left}" x2="{width}" y1="{average:.1f}" y2="{average:.1f}" '
            'stroke="#1D2330" stroke-width="1.2" stroke-dasharray="4 3"/>')
    svg.text(left, height - 6, _short(days[0][0]), anchor="start")
    if len(days) > 1:
        svg.text(width, height - 6, _short(days[-1][0]), anchor="end")
    return svg.done()


def _clip(text: str, size: int) -> str:
    return text if len(text) <= size else text[: size - 1] + "…"


def _versions_table(stats: Stats) -> str:
    rows = "".join(
        f'<tr><td class="text">{escape(version_name(v.version))}</td>'
        f"<td>{v.choices:,}</td><td>{v.first:%Y-%m-%d %H:%M}</td>"
        f"<td>{v.last:%Y-%m-%d %H:%M}</td></tr>" for v in stats.versions)
    return ('<div class="scroll"><table><thead><tr><th>Version</th><th>Choices</th>'
            "<th>First seen (UTC)</th><th>Last seen (UTC)</th></tr></thead>"
            f"<tbody>{rows}</tbody></table></div>")


def _daily_table(stats: Stats) -> str:
    categories = stats.categories
    head = "".join(f"<th>{escape(h)}</th>" for h in (
        "Day", "Choices", *(ACTION_LABELS[a].capitalize() for a in ACTIONS), *categories,
        "GPC"))

    def cells(tally: Tally) -> Iterator[str]:
        yield f"{tally.choices:,}"
        yield from (percent(tally.share(a)) for a in ACTIONS)
        yield from (percent(tally.acceptance(c)) for c in categories)
        yield percent(tally.gpc_share)

    body = "".join(f"<tr><td>{day.isoformat()}</td>"
                   + "".join(f"<td>{c}</td>" for c in cells(tally)) + "</tr>"
                   for day, tally in stats.days.items())
    foot = "<tr><td>All days</td>" + "".join(f"<td>{c}</td>" for c in cells(stats.total))
    return (f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}'
            f"</tbody><tfoot>{foot}</tr></tfoot></table></div>")
