"""The HTML report, checked by parsing it: content, safety, overrides, errors."""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from bs4 import BeautifulSoup
from conftest_html import (
    PERIOD,
    SCRIPT_KEY,
    make_health_sources,
    make_insight_results,
    make_results,
    make_review,
    trend,
)

from kpi_cli import formatting as f
from kpi_cli.atomic import expand_out, slug, write_atomic
from kpi_cli.errors import OutputError, TemplateError, UsageError
from kpi_cli.periods import parse_period
from kpi_cli.render_html import render_html
from kpi_cli.review import run_review
from kpi_cli.review_model import (
    Anomaly,
    Breakdown,
    BreakdownRow,
    Change,
    TargetDetail,
)
from kpi_cli.sample import generate
from kpi_cli.scaffold import create_project


def soup_of(html: str) -> BeautifulSoup:
    return BeautifulSoup(html, "html.parser")


@pytest.fixture(scope="module", params=["zh", "en"])
def lang(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="module")
def review(lang: str):
    return make_review(lang)


@pytest.fixture(scope="module")
def soup(review) -> BeautifulSoup:
    return soup_of(render_html(review))


def text_of(node) -> str:
    return " ".join(node.get_text(" ", strip=True).split())


# --- header and sections -----------------------------------------------------


@pytest.mark.parametrize(
    ("lang", "period"),
    [("zh", "2026年第48周 · 11月23日–11月29日"), ("en", "Week 48 · 23–29 Nov 2026")],
    ids=["zh", "en"],
)
def test_title_and_period(lang: str, period: str) -> None:
    page = soup_of(render_html(make_review(lang)))

    review_word = "KPI 复盘" if lang == "zh" else "KPI review"
    assert page.title.string == f"杭州旗舰店 & <Co> · {review_word} · {period}"
    assert text_of(page.select_one(".masthead .project")) == "杭州旗舰店 & <Co>"
    assert text_of(page.select_one(".masthead .period")) == period
    assert page.html["lang"] == ("zh-CN" if lang == "zh" else "en")


def test_lang_argument_overrides_review_language() -> None:
    page = soup_of(render_html(make_review("zh"), lang="en"))

    assert text_of(page.select_one(".masthead .period")) == "Week 48 · 23–29 Nov 2026"


def test_header_shows_generated_time_and_data_reach(soup, lang: str) -> None:
    meta = text_of(soup.select_one(".masthead .meta"))

    assert f.format_datetime(make_review(lang).generated_at, lang) in meta
    for source in make_review(lang).sources:
        assert f"{source.name} {f.format_datetime(source.last, lang)}" in meta


def test_partial_period_is_marked_with_elapsed_days() -> None:
    partial = make_review("en").period.cut(3)
    review = replace(make_review("en", results=make_results(partial)), period=partial)

    page = soup_of(render_html(review))

    assert "day 3 of 7" in text_of(page.select_one(".masthead .partial"))


def test_sections_in_reading_order(soup) -> None:
    ids = [s["id"] for s in soup.select("main > section")]

    assert ids == ["attention", "summary", "details", "data", "appendix"]


# --- needs attention -----------------------------------------------------------


def test_attention_lists_off_track_then_at_risk(soup, review, lang: str) -> None:
    items = soup.select("#attention .attention-item")
    names = [text_of(i.select_one(".attention-name")) for i in items]
    statuses = [text_of(i.select_one(".badge")) for i in items]

    assert names == [k.kpi.name.get(lang) for k in review.attention]
    assert names == (
        ["新客获客成本", "转化率", "销售额"]
        if lang == "zh"
        else ["New-customer CAC", "Conversion rate", "Sales (GMV)"]
    )
    assert statuses == [
        f"{f.status_symbol(s)} {f.status_label(s, lang)}"
        for s in ("off_track", "off_track", "at_risk")
    ]


def test_attention_says_so_when_nothing_is_off(lang: str) -> None:
    results = tuple(
        r for r in make_results() if r.status not in ("off_track", "at_risk")
    )
    page = soup_of(render_html(make_review(lang, results=results)))

    assert page.select("#attention .attention-item") == []
    assert len(page.select("#attention .all-clear")) == 1


# --- cards -----------------------------------------------------------------


def test_cards_hold_formatted_values(soup, review, lang: str) -> None:
    cards = soup.select("#summary .card")
    currency = review.project.currency

    assert len(cards) == len(review.core) == 4
    for card, result in zip(cards, review.core, strict=True):
        unit = result.kpi.unit
        exact = f.format_value(result.value, unit, lang=lang, currency=currency)
        short = f.format_compact(result.value, unit, lang=lang, currency=currency)
        value = card.select_one(".card-value")
        assert text_of(value) == short
        assert value["title"] == exact
        assert text_of(card.select_one(".card-name")) == result.kpi.name.get(lang)
        assert f.format_pct(result.attainment, lang=lang, signed=False) in text_of(card)
        badge = text_of(card.select_one(".badge"))
        assert (
            badge
            == f"{f.status_symbol(result.status)} {f.status_label(result.status, lang)}"
        )


def test_chinese_cards_use_wan(lang: str) -> None:
    page = soup_of(render_html(make_review(lang)))
    gmv = page.select_one("#summary .card .card-value")

    assert text_of(gmv) == ("¥128.6万" if lang == "zh" else "¥1.29M")
    assert gmv["title"] == "¥1,285,634.50"


def test_change_tone_follows_direction(soup) -> None:
    cards = {c["href"]: c for c in soup.select("#summary .card")}
    gmv_previous = cards["#kpi-gmv"].select(".change")[0]
    cac_previous = cards["#kpi-cac"].select(".change")[0]
    cac_year = cards["#kpi-cac"].select(".change")[1]

    # Sales up is good; CAC up is bad, CAC down is good.
    assert "tone-good" in gmv_previous["class"]
    assert "▲" in text_of(gmv_previous)
    assert "tone-bad" in cac_previous["class"]
    assert "▲" in text_of(cac_previous)
    assert "tone-good" in cac_year["class"]
    assert "▼" in text_of(cac_year)


def test_change_from_zero_shows_the_absolute_change(soup) -> None:
    # Orders a year ago: 0, now 9,876; no percentage, but +9,876 orders.
    orders = soup.select_one('#summary .card[href="#kpi-orders"]')
    year_ago = orders.select(".change")[1]

    assert text_of(year_ago.select_one(".num")) == "+9,876"
    assert "▲" in text_of(year_ago)
    assert "tone-good" in year_ago["class"]


def test_attention_shows_the_absolute_change_from_zero(lang: str) -> None:
    # GMV is at risk; against a previous week of ¥0 it rose by all of
    # ¥1,285,634.50, which the attention list says instead of n/a.
    gmv, *rest = make_results()
    gmv = replace(
        gmv,
        previous=replace(
            gmv.previous, value=Decimal(0), change=gmv.value, change_pct=None
        ),
    )
    page = soup_of(render_html(make_review(lang, results=(gmv, *rest))))
    name = "销售额" if lang == "zh" else "Sales (GMV)"
    (item,) = [
        li
        for li in page.select("#attention .attention-item")
        if text_of(li.select_one(".attention-name")) == name
    ]
    change = item.select_one(".change")

    assert gmv.value == Decimal("1285634.50")
    assert text_of(change.select_one(".num")) == "+¥1,285,634.50"
    assert "tone-good" in change["class"]


def test_unknown_change_is_not_available(lang: str) -> None:
    orders = make_results()[1]
    assert orders.kpi.id == "orders"
    unknown = replace(orders.year_ago, value=None, change=None, change_pct=None)
    results = list(make_results())
    results[1] = replace(orders, year_ago=unknown)
    page = soup_of(render_html(make_review(lang, results=tuple(results))))
    year_ago = page.select_one('#summary .card[href="#kpi-orders"]').select(".change")[
        1
    ]

    assert text_of(year_ago) == f.NOT_AVAILABLE[lang]
    assert "tone-na" in year_ago["class"]


def test_status_has_colour_word_and_symbol(soup) -> None:
    for badge in soup.select(".badge"):
        status = next(c for c in badge["class"] if c.startswith("status-"))
        assert status
        assert text_of(badge.select_one(".badge-symbol"))
        assert len(text_of(badge)) > len(text_of(badge.select_one(".badge-symbol")))


# --- KPI sections --------------------------------------------------------------


def test_every_kpi_has_a_section(soup, review) -> None:
    sections = soup.select("#details article.kpi")

    assert [s["id"] for s in sections] == [f"kpi-{k.id}" for k in review.kpis]


def test_trend_chart_is_inline_svg_with_target_and_gap(soup, lang: str) -> None:
    gmv = soup.select_one("#kpi-gmv")
    svg = gmv.select_one("svg.trend")

    assert svg["viewbox"] == "0 0 480 214"  # html.parser lowercases names
    bars = svg.select(".bars rect")
    assert len(bars) == 11  # twelve periods, one without data
    assert len(svg.select(".gaps text")) == 1
    assert [b for b in bars if "current" in b.get("class", [])] == [bars[-1]]
    assert svg.select_one("path.target")["d"].startswith("M")
    labels = [text_of(t) for t in svg.select(".x-labels text")]
    assert labels[-1] == "W48"
    assert text_of(svg.select_one(".value-label")) == f.format_compact(
        make_results()[0].value, "currency", lang=lang
    )


def test_rate_is_a_line_and_no_data_has_no_chart(soup) -> None:
    assert soup.select_one("#kpi-conversion svg.trend polyline")
    assert soup.select_one("#kpi-csat svg") is None
    assert soup.select_one("#kpi-csat .empty-chart")


def test_breakdown_table(soup, lang: str) -> None:
    table = soup.select_one("#kpi-gmv .breakdown table")
    rows = table.select("tbody tr")
    keys = [text_of(r.select_one("th.key").contents[0]) for r in rows]

    assert keys == [
        "小程序",
        "门店",
        "直播",
        SCRIPT_KEY,
        "（空）" if lang == "zh" else "(blank)",
    ]
    first = [text_of(c) for c in rows[0].select("td")]
    assert first[:3] == [
        f.format_value(
            make_results()[0].breakdown.rows[0].value, "currency", lang=lang
        ),
        f.format_value(750000, "currency", lang=lang),
        f.format_pct(0.9365, lang=lang, signed=False),
    ]
    assert rows[2].select_one(".row-anomaly")


def test_notes_and_anomaly(soup) -> None:
    assert "直播渠道本周停播两场" in text_of(soup.select_one("#kpi-gmv .notes"))
    assert "robust z" in text_of(soup.select_one("#kpi-conversion .anomaly"))


# --- data and appendix -----------------------------------------------------------


def test_data_section_flags_empty_and_header_only_files(soup, lang: str) -> None:
    flagged = soup.select("#data tr.file-empty, #data tr.file-header_only")
    paths = [text_of(r.select_one(".path")) for r in flagged]

    assert paths == [
        "exports/orders/2026-11-30_empty.csv",
        "exports/reviews/评价_W48.csv",
    ]
    incomplete = soup.select_one("#data .source-incomplete")
    assert "本周评价导出只有表头" in text_of(incomplete.select_one(".issues"))


def test_appendix_has_escaped_sql(soup, review) -> None:
    definition = soup.select_one("#def-gmv")
    codes = [c.get_text() for c in definition.select("pre > code")]

    assert codes == [review.kpis[0].kpi.filter, review.kpis[0].kpi.measure]
    assert definition.select("pre b") == []  # '<b>' in the filter stayed text
    assert "运营部 · 王芳" in text_of(definition)


# --- safety ------------------------------------------------------------------


def test_script_key_is_text_and_no_script_runs(soup) -> None:
    assert soup.find_all("script") == []
    assert soup.find(string=re.compile(re.escape(SCRIPT_KEY)))
    assert soup.find_all(["iframe", "object", "embed", "link", "img"]) == []


def test_no_network_addresses(soup) -> None:
    for tag in soup.find_all(True):
        for attr in ("src", "href", "action", "xlink:href", "srcset"):
            value = tag.get(attr)
            if value:
                assert not re.match(r"^\s*(https?:)?//", value), (tag.name, value)
    style = "\n".join(s.get_text() for s in soup.find_all("style"))
    assert "url(" not in style
    assert "@import" not in style


def test_csp_meta(soup) -> None:
    csp = soup.find("meta", attrs={"http-equiv": "Content-Security-Policy"})

    assert csp is not None
    assert "default-src 'none'" in csp["content"]
    assert "script-src" not in csp["content"]


def test_no_nan_inf_none_text(soup) -> None:
    words = set(re.findall(r"[A-Za-z]+", soup.get_text(" ")))

    assert not words & {"nan", "NaN", "inf", "Infinity", "None", "null", "undefined"}


def test_nan_values_show_not_available(lang: str) -> None:
    first = make_results()[1]
    broken = replace(first, value=float("nan"), attainment=float("inf"))
    page = soup_of(render_html(make_review(lang, results=(broken,))))

    assert "nan" not in page.get_text().lower()
    assert "inf" not in re.findall(r"[a-z]+", page.get_text().lower())


# --- templates ---------------------------------------------------------------


def test_project_override_extends_builtin(tmp_path: Path) -> None:
    (tmp_path / "review.html").write_text(
        '{% extends "builtin/review.html" %}'
        "{% block header %}"
        '<h1 class="custom">{{ report.project }} 周会</h1>'
        "{% endblock %}",
        encoding="utf-8",
    )
    page = soup_of(render_html(make_review(), template_dirs=[tmp_path]))

    assert text_of(page.select_one("h1.custom")) == "杭州旗舰店 & <Co> 周会"
    assert page.select_one(".masthead") is None
    assert page.select_one("#summary .card")


def test_project_partial_override(tmp_path: Path) -> None:
    (tmp_path / "_attention.html").write_text(
        '<section id="attention" class="mine">'
        "{% for k in report.attention %}<p>{{ k.name }}</p>{% endfor %}</section>",
        encoding="utf-8",
    )
    page = soup_of(render_html(make_review("en"), template_dirs=[tmp_path]))

    assert [text_of(p) for p in page.select("#attention.mine p")] == [
        "New-customer CAC",
        "Conversion rate",
        "Sales (GMV)",
    ]


def test_undefined_variable_names_the_file(tmp_path: Path) -> None:
    broken = tmp_path / "_summary.html"
    broken.write_text("<section>\n<p>{{ report.no_such_field }}</p>\n</section>\n")

    with pytest.raises(TemplateError) as info:
        render_html(make_review(), template_dirs=[tmp_path])

    assert str(broken) in str(info.value)
    assert "line 2" in str(info.value)
    assert "no_such_field" in str(info.value)


def test_syntax_error_names_the_file(tmp_path: Path) -> None:
    broken = tmp_path / "review.html"
    broken.write_text('{% extends "builtin/review.html" %}\n{% block header %}\n')

    with pytest.raises(TemplateError) as info:
        render_html(make_review(), template_dirs=[tmp_path])

    assert str(broken) in str(info.value)


# --- atomic writes and --out -----------------------------------------------------


def test_write_atomic_creates_folders(tmp_path: Path) -> None:
    target = tmp_path / "reports" / "w48" / "review.html"

    write_atomic(target, "<p>周报</p>")

    assert target.read_text(encoding="utf-8") == "<p>周报</p>"


def test_write_atomic_keeps_previous_file_on_error(tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "review.html"
    target.write_text("previous", encoding="utf-8")

    def fail(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", fail)
    with pytest.raises(OutputError, match="No space left on device"):
        write_atomic(target, "new " * 1000)

    assert target.read_text(encoding="utf-8") == "previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["review.html"]


def test_write_atomic_replaces(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    write_atomic(target, b"one")
    write_atomic(target, b"two")

    assert target.read_bytes() == b"two"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("reports/{project}-{period}.{format}", "reports/杭州-旗舰店-2026-W48.html"),
        ("{date}/{project}.html", "2026-11-30/杭州-旗舰店.html"),
        ("plain.html", "plain.html"),
        ("{{literal}}-{period}.html", "{literal}-2026-W48.html"),
    ],
    ids=["project-period", "date", "no-placeholder", "braces"],
)
def test_expand_out(template: str, expected: str) -> None:
    path = expand_out(
        template,
        project="杭州 旗舰店",
        period="2026-W48",
        fmt="html",
        today=dt.date(2026, 11, 30),
    )

    assert path == Path(expected)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("杭州旗舰店", "杭州旗舰店"),
        ("a/b\\c:d", "a-b-c-d"),
        ("../../etc", "etc"),
        ("  ", "report"),
        ("Shop <Co> | 2026?", "Shop-Co-2026"),
    ],
    ids=["cjk", "separators", "dots", "blank", "reserved"],
)
def test_slug(name: str, expected: str) -> None:
    assert slug(name) == expected


@pytest.mark.parametrize("template", ["{projet}.html", "{period!r}.html", "{0}.html"])
def test_expand_out_unknown_placeholder(template: str) -> None:
    with pytest.raises(UsageError) as info:
        expand_out(template, project="p", period="2026-W48", fmt="html")

    assert "unknown placeholder" in str(info.value)


def test_expand_out_lone_brace() -> None:
    with pytest.raises(UsageError, match="literal brace"):
        expand_out("reports/{project.html", project="p", period="x", fmt="html")


def test_all_kpis_are_cards_when_none_is_core(lang: str) -> None:
    results = tuple(
        replace(r, kpi=r.kpi.model_copy(update={"core": False})) for r in make_results()
    )
    page = soup_of(render_html(make_review(lang, results=results)))

    assert len(page.select("#summary .card")) == len(results)
    assert text_of(page.select_one("#summary h2")) == (
        "全部指标" if lang == "zh" else "All KPIs"
    )


def test_negative_base_is_flagged(lang: str) -> None:
    first = make_results()[1]
    period = first.previous.period
    result = replace(first, previous=Change(period, -100, 150, 1.5, base_negative=True))
    page = soup_of(render_html(make_review(lang, results=(result,))))
    change = page.select_one("#kpi-orders .figures .change")

    assert "+150.0%" in text_of(change)
    assert change.select_one(".change-warning")


# --- what the review knows besides the numbers ---------------------------------
# Expected strings are worked by hand from the objects in conftest_html.


@pytest.fixture(scope="module")
def insight(lang: str) -> BeautifulSoup:
    review = replace(
        make_review(lang, results=make_insight_results()),
        sources=make_health_sources(),
    )
    return soup_of(render_html(review))


def test_growth_target_is_a_formula(insight, lang: str) -> None:
    basis = text_of(insight.select_one("#kpi-orders .target-basis"))
    trailing = text_of(insight.select_one("#kpi-cac .target-basis"))

    # 9,000 a year ago, +15% -> 10,350; CAC: mean of 4 weeks 95, -10% -> 85.50.
    if lang == "zh":
        assert basis == "目标 = 去年同期（2025-W48）9,000 × (1 + 15.0%)"
        assert trailing == (
            "目标 = 近 4 期均值（2026-W44 – 2026-W47）¥95.00 × (1 − 10.0%)"
        )
    else:
        assert basis == "target = same week last year (2025-W48) 9,000 + 15.0%"
        assert trailing == (
            "target = mean of the last 4 weeks (2026-W44 – 2026-W47) ¥95.00 − 10.0%"
        )
    figures = insight.select_one("#kpi-orders .figures")
    assert "10,350" in text_of(figures)
    assert "¥85.50" in text_of(insight.select_one("#kpi-cac .figures"))


def test_growth_target_without_baseline_says_so(lang: str) -> None:
    orders = make_insight_results()[1]
    detail = replace(orders.target_detail, baseline=None, full=None, value=None)
    result = replace(orders, target=None, target_detail=detail, status="no_target")
    page = soup_of(render_html(make_review(lang, results=(result,))))
    basis = text_of(page.select_one("#kpi-orders .target-basis"))

    assert basis == (
        "目标 = 去年同期（2025-W48） × (1 + 15.0%)：基期没有数据，本期无目标"
        if lang == "zh"
        else "target = same week last year (2025-W48) + 15.0%: the baseline has "
        "no value, so there is no target this period"
    )


def test_range_target_is_min_to_max(insight, lang: str) -> None:
    figures = insight.select_one("#kpi-conversion .figures")
    card = insight.select_one('#summary .card[href="#kpi-conversion"]')
    attention = insight.select_one("#attention .attention-item.status-off_track")

    assert "4.50%–6.00%" in text_of(figures)
    assert "4.50%–6.00%" in text_of(card)
    assert attention is not None


def test_range_target_in_a_breakdown_row(lang: str) -> None:
    conversion = make_insight_results()[2]
    row_detail = TargetDetail(kind="range", full=None, value=None, warn=0.1, low=0.02)
    rows = (
        BreakdownRow("直播", 0.018, None, 0.9, "at_risk", target_detail=row_detail),
    )
    result = replace(conversion, breakdown=Breakdown("channel", rows))
    page = soup_of(render_html(make_review(lang, results=(result,))))
    cells = [text_of(c) for c in page.select("#kpi-conversion .breakdown tbody td")]

    assert cells[1] == "2.00%–…"


def test_pacing_of_a_partial_period(lang: str) -> None:
    partial = PERIOD.cut(3)
    gmv = make_results(partial)[0]
    # 3 of 7 days: pace target 70,000 x 3/7 = 30,000; 25,000 so far projects
    # to 25,000 x 7/3 = 58,333.33.
    detail = TargetDetail(
        "value", 70000.0, 70000 * 3 / 7, 0.05, share=3 / 7, pacing="linear"
    )
    paced = replace(
        gmv,
        value=Decimal(25000),
        target=detail.value,
        target_detail=detail,
        projected=Decimal(25000) * 7 / 3,
    )
    last_year = replace(
        detail, share=0.4, pacing="last_year", value=28000.0
    )  # 40% of last year's week was in by day 3
    curve = replace(paced, target=28000.0, target_detail=last_year)
    pages = [
        soup_of(render_html(replace(make_review(lang, results=(r,)), period=partial)))
        for r in (paced, curve)
    ]
    linear, by_curve = (text_of(p.select_one("#kpi-gmv .target-pace")) for p in pages)

    if lang == "zh":
        assert linear == (
            "◔ 进度目标 ¥30,000.00（按天线性，已过 42.9%）· "
            "按进度预计全期 ¥58,333.33，全期目标 ¥70,000.00"
        )
        assert "按去年同期曲线，此时应完成 40.0%" in by_curve
    else:
        assert linear == (
            "◔ pace target ¥30,000.00 (linear, 42.9% of the period elapsed) · "
            "projected ¥58,333.33 vs full-period target ¥70,000.00"
        )
        assert "last year's curve, 40.0% of the total expected by now" in by_curve
    assert "¥28,000.00" in by_curve


def test_effective_date_and_target_change(insight, lang: str) -> None:
    effective = text_of(insight.select_one("#kpi-gmv .target-effective"))
    changed = text_of(insight.select_one("#kpi-gmv .target-changed"))
    attention = text_of(insight.select_one("#attention"))

    if lang == "zh":
        assert effective == "目标自 2026年11月16日 起生效"
        assert changed == "目标调整 ¥52,000.00 → ¥60,000.00"
    else:
        assert effective == "target in force since 16 Nov 2026"
        assert changed == "target changed ¥52,000.00 → ¥60,000.00"
    assert changed in attention


def test_streak_next_to_the_status(insight, lang: str) -> None:
    head = insight.select_one("#kpi-gmv .kpi-head")
    items = insight.select("#attention .attention-item")
    streaks = {
        text_of(i.select_one(".attention-name").contents[0]): text_of(
            i.select_one(".streak")
        )
        for i in items
        if i.select_one(".streak")
    }

    three = "连续 3 期未达成" if lang == "zh" else "Off track 3 periods in a row"
    two = "连续 2 期未达成" if lang == "zh" else "Off track 2 periods in a row"
    assert text_of(head.select_one(".streak")) == three
    assert head.select_one(".badge") is not None
    names = {r.id: r.kpi.name.get(lang) for r in make_insight_results()}
    assert streaks == {names["gmv"]: three, names["conversion"]: two}
    assert insight.select_one("#kpi-orders .streak") is None


def test_why_block_of_an_additive_kpi(insight, lang: str) -> None:
    why = insight.select_one("#kpi-gmv-why")
    rows = [[text_of(c) for c in r.select("th, td")] for r in why.select("tbody tr")]

    # value - own target per channel; share of the gap -7,765.82.
    assert rows == [
        ["直播", "−¥9,077.77", "116.9%"],
        ["小程序", "+¥4,088.03", "−52.6%"],
        ["社群团购", "−¥2,052.86", "26.4%"],
    ]
    assert text_of(why.select_one(".why-comparison")) == (
        "对比目标：¥52,000.00 → ¥44,234.18（−¥7,765.82），按 channel 拆分"
        if lang == "zh"
        else "vs target: ¥52,000.00 → ¥44,234.18 (−¥7,765.82), by channel"
    )
    header = [text_of(h) for h in why.select("thead th")]
    assert header[2] == ("占差额" if lang == "zh" else "Share")
    tones = [c["class"] for c in why.select("td.contribution")]
    assert ["tone-bad" in t for t in tones] == [True, False, True]


def test_why_block_of_a_ratio_splits_mix_and_rate(insight, lang: str) -> None:
    why = insight.select_one("#kpi-conversion-why")
    rows = [[text_of(c) for c in r.select("th, td")] for r in why.select("tbody tr")]

    overlap = (
        "重叠部分（无法归属到单个值）"
        if lang == "zh"
        else "overlap (not attributable to one value)"
    )
    # Contribution = mix + rate, in percentage points of the conversion rate.
    assert rows == [
        ["小程序", "−0.30 pp", "75.0%", "−0.05 pp", "−0.25 pp"],
        ["直播", "−0.15 pp", "37.5%", "−0.12 pp", "−0.03 pp"],
        [overlap, "+0.05 pp", "−12.5%", "", ""],
    ]
    assert "2026-W47" in text_of(why.select_one(".why-comparison"))


def test_attention_summarises_why(insight, lang: str) -> None:
    summaries = [
        " ".join(s.get_text().split())
        for s in insight.select("#attention .attention-why")
    ]

    if lang == "zh":
        assert summaries == [
            "原因拆解 · 对比上期 −0.40 pp：小程序 −0.30 pp（75.0%）；"
            "直播 −0.15 pp（37.5%）；重叠部分（无法归属到单个值） +0.05 pp（−12.5%）；"
            "以比率效应为主",
            "原因拆解 · 对比目标 −¥7,765.82：直播 −¥9,077.77（116.9%）；"
            "小程序 +¥4,088.03（−52.6%）；社群团购 −¥2,052.86（26.4%）",
        ]
    else:
        assert summaries == [
            "Why · vs previous −0.40 pp: 小程序 −0.30 pp (75.0%); "
            "直播 −0.15 pp (37.5%); overlap (not attributable to one value) "
            "+0.05 pp (−12.5%); mostly rate, not mix",
            "Why · vs target −¥7,765.82: 直播 −¥9,077.77 (116.9%); "
            "小程序 +¥4,088.03 (−52.6%); 社群团购 −¥2,052.86 (26.4%)",
        ]
    # Off track first, by id: conversion, then gmv.
    links = [a["href"] for a in insight.select("#attention .attention-why a")]
    assert links == ["#kpi-conversion-why", "#kpi-gmv-why"]


def test_anomalies_read_in_words(insight, lang: str) -> None:
    vanished = text_of(insight.select_one("#kpi-gmv .row-anomaly"))
    weekday = text_of(insight.select_one("#kpi-orders .row-anomaly"))

    if lang == "zh":
        assert vanished == (
            "⚑ 本期消失：此前各期都有数据，本期没有 · 常态基准 ¥8,205.48 · 偏离分数 3.5"
        )
        assert (
            weekday == "⚑ 异常偏高 · 常态基准 310 · 偏离分数 4.2 · 对比此前几周的同一天"
        )
    else:
        assert vanished == (
            "⚑ vanished: present in every earlier period, none now · "
            "usual level ¥8,205.48 · score 3.5"
        )
        assert weekday == (
            "⚑ Unusually high · usual level 310 · score 4.2 · "
            "against the same weekday of earlier weeks"
        )
    assert "robust_z" not in insight.get_text()


def test_breakdown_without_targets_has_no_target_columns(insight) -> None:
    plain = insight.select_one("#kpi-orders .breakdown table")
    targeted = insight.select_one("#kpi-gmv .breakdown table")

    assert len(plain.select("thead th")) == 3
    assert all(len(r.select("td")) == 2 for r in plain.select("tbody tr"))
    assert plain.select(".badge") == []
    assert len(targeted.select("thead th")) == 6


def test_coded_notes_are_words(insight, lang: str) -> None:
    notes = text_of(insight.select_one("#kpi-conversion .notes"))

    assert notes.endswith(
        "数据源 orders、traffic 数据不完整：本期不判为未达成或有风险"
        if lang == "zh"
        else "incomplete data in orders, traffic: this KPI is not called off "
        "track or at risk"
    )
    assert "incomplete:orders" not in insight.get_text()


def test_data_section_shows_health_and_dependents(insight, lang: str) -> None:
    orders = insight.select("#data .source")[0]
    facts = {
        text_of(d.select_one("dt")): text_of(d.select_one("dd"))
        for d in orders.select(".source-facts > div")
    }
    flagged = [text_of(d.select_one("dt")) for d in orders.select(".fact-flagged")]

    if lang == "zh":
        assert facts["无数据的天"] == "⚠ 2 天：11月24日、11月25日"
        assert facts["重复主键的行"] == "⚠ 4"
        assert facts["缺主键的行"] == "⚠ 12（2.0%）"
        # 600 / 1,714.5 = 35.0%
        assert facts["行数 / 近 8 期中位数"] == "⚠ 35.0%（中位数 1,714.5）"
        assert facts["时间列"] == "paid_at"
        assert len(flagged) == 4
    else:
        assert facts["Days without rows"] == "⚠ 2: 24 Nov, 25 Nov"
        assert facts["Rows vs median of last 8 weeks"] == "⚠ 35.0% (median 1,714.5)"
    # The KPIs that read the source, with their status; the source is
    # incomplete, so the report says what that does to them.
    links = orders.select(".depends-kpi")
    assert [a["href"] for a in links] == ["#kpi-gmv"]
    assert text_of(links[0].select_one(".badge")) == (
        f"{f.status_symbol('off_track')} {f.status_label('off_track', lang)}"
    )
    assert orders.select_one(".depends-note") is not None
    reviews = insight.select("#data .source")[1]
    assert reviews.select_one(".source-sparse") is not None
    assert reviews.select_one(".fact-flagged") is None


def test_chart_top_tick_covers_the_largest_value(lang: str) -> None:
    orders = make_results()[1]
    # 0..171 in steps of 50: the top tick must be 200, not 150.
    result = replace(orders, trend=trend([150, 155, 160, 171], None))
    page = soup_of(render_html(make_review(lang, results=(result,))))
    svg = page.select_one("#kpi-orders svg.trend")
    tops = [float(r["y"]) for r in svg.select(".bars rect")]

    assert [text_of(t) for t in svg.select(".y-labels text")][-1] == "200"
    assert min(tops) >= 18.0  # the plot's top edge


# --- a real review: the sample shop whose live channel collapsed ---------------


@pytest.fixture(scope="module")
def collapsed(tmp_path_factory: pytest.TempPathFactory):
    project = create_project(
        tmp_path_factory.mktemp("collapse") / "shop", language="zh"
    )
    generate(project.data_dir, anomaly="live_collapse")
    review = run_review(project, parse_period("2026-W48"))

    return project.data_dir / "orders.csv", review


def test_real_why_block_matches_sql_over_the_export(collapsed, lang: str) -> None:
    orders_csv, review = collapsed
    page = soup_of(render_html(review, lang=lang))
    # Paid orders per channel, W48 minus W47, straight from the raw export.
    deltas = dict(
        duckdb.sql(
            "SELECT 渠道, count(*) FILTER (WHERE 付款时间 >= '2026-11-23' "
            "AND 付款时间 < '2026-11-30') - count(*) FILTER (WHERE "
            "付款时间 >= '2026-11-16' AND 付款时间 < '2026-11-23') "
            f"FROM read_csv('{orders_csv}', all_varchar = true) GROUP BY 1"
        ).fetchall()
    )
    total = sum(deltas.values())
    top = sorted(deltas.items(), key=lambda kv: -abs(kv[1]))[:3]
    why = page.select_one("#kpi-orders-why")
    rows = [[text_of(c) for c in r.select("th, td")] for r in why.select("tbody tr")]

    assert rows == [
        [
            key,
            f.format_change(delta, "count", lang=lang),
            f.format_pct(delta / total, lang=lang, signed=False),
        ]
        for key, delta in top
    ]
    assert top[0][0] == "直播"
    summary = text_of(page.select_one('#attention a[href="#kpi-orders-why"]').parent)
    assert f"直播 {f.format_change(top[0][1], 'count', lang=lang)}" in summary
    # The collapsed channel is flagged in the GMV breakdown, in words.
    live = next(
        r
        for r in page.select("#kpi-gmv .breakdown tbody tr")
        if text_of(r.select_one("th.key").contents[0]) == "直播"
    )
    assert text_of(live.select_one(".row-anomaly")).startswith(
        "⚑ 异常偏低" if lang == "zh" else "⚑ Unusually low"
    )


# --- chart layout, shared note wording, short-history anomalies ----------------

LABEL_SIZE, LABEL_DESCENT = 18.0, 4.0  # the largest .value-label font (phones)
LEGEND_SIZE = 16.0  # the largest .legend font the stylesheet sets (phones)


def label_box(svg) -> tuple[float, float]:
    y = float(svg.select_one(".value-label")["y"])
    return y - LABEL_SIZE, y + LABEL_DESCENT


def target_y(svg) -> float:
    # The last "L x y" of the stepped path is the current (last) slot's level.
    return float(svg.select_one("path.target")["d"].split()[-1])


@pytest.mark.parametrize(
    ("values", "target"),
    [
        ([100, 120, 150, 171], 90),  # current is the maximum, target far below
        ([100, 120, 150, 200], 200),  # maximum on the top tick, target on it
        ([100, 120, 150, 196], 199),  # target a hair above the tallest bar
        ([100, 120, 150, 171], 168),  # target just under the current value
    ],
)
def test_value_label_clears_legend_and_target(
    values: list[float], target: float, lang: str
) -> None:
    orders = make_results()[1]
    result = replace(orders, value=values[-1], trend=trend(values, target))
    page = soup_of(render_html(make_review(lang, results=(result,))))
    svg = page.select_one("#kpi-orders svg.trend")
    legend = svg.select_one("text.legend")
    legend_y = float(legend["y"])
    top, bottom = label_box(svg)
    level = target_y(svg)
    bar_top = min(float(r["y"]) for r in svg.select(".bars rect.current"))

    assert text_of(svg.select_one(".value-label")) == str(values[-1])
    # The legend band [y - size, y] and the label's box do not intersect.
    assert legend_y - LEGEND_SIZE >= 0
    assert legend_y < top
    # The dashed target line does not run through the label.
    assert not top <= level <= bottom
    # The plot (bars, target) starts below the legend too.
    assert bar_top > legend_y and level > legend_y
    assert (t := text_of(legend)).startswith("■") and t.count("╌") == 2


def test_legend_without_target_has_no_target_key(lang: str) -> None:
    orders = make_results()[1]
    result = replace(orders, trend=trend([1, 2, 3], None))
    page = soup_of(render_html(make_review(lang, results=(result,))))
    legend = text_of(page.select_one("#kpi-orders svg.trend text.legend"))

    assert legend == ("■ 本期" if lang == "zh" else "■ This period")


def test_partial_base_note_reads_like_the_terminal(lang: str) -> None:
    orders = make_results()[1]
    result = replace(orders, notes=("partial_base:2026-W47",))
    page = soup_of(render_html(make_review(lang, results=(result,))))
    notes = text_of(page.select_one("#kpi-orders .notes"))

    assert notes.endswith(
        "对比期 2026-W47 开始后才有数据：对比值可能不完整"
        if lang == "zh"
        else "the data begins after comparison period 2026-W47 begins: "
        "its value may be partial"
    )
    assert "partial_base:" not in page.get_text()


@pytest.mark.parametrize(
    ("before", "now", "vanished"),
    [(200, 310, False), (400, 150, False), (240, 0, True)],
)
def test_short_history_anomaly_is_a_change_from_previous(
    before: int, now: int, vanished: bool, lang: str
) -> None:
    # What the change rule in anomaly.py attaches: score |now - before| / before.
    share = 1.0 if vanished else abs(now - before) / before
    anomaly = Anomaly(
        share,
        "up" if now > before else "down",
        before,
        "change",
        "vanished" if vanished else "",
    )
    orders = make_results()[1]
    result = replace(orders, value=now, anomaly=anomaly)
    page = soup_of(render_html(make_review(lang, results=(result,))))
    text = text_of(page.select_one("#kpi-orders .anomaly"))
    words = (
        "较上期变化（历史数据不足）"
        if lang == "zh"
        else "change from the previous period (short history)"
    )
    match = re.search(re.escape(words) + r" ([+−-][\d.,]+)%", text)

    assert match, text
    pct = float(match.group(1).replace("−", "-").replace(",", ""))
    assert pct == pytest.approx((now - before) / before * 100, abs=0.05)
    previous = "上期" if lang == "zh" else "previous"
    assert f"{previous} {before}" in text
    for word in ("usual", "常态", "score", "偏离分数"):
        assert word not in text
