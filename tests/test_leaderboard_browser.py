"""The built leaderboard in headless Chromium (Debian's chromium + chromium-driver, via Selenium), from file://.

One browser for the module. Every page load installs a hook that records alert/confirm/prompt calls and CSP
violations, so "no script ran" is checked three ways: window.__pwned stays undefined, no dialog was asked for,
and the CSP never had to block anything (escaping, not the policy, is what keeps hostile names inert).
Screenshots go to test-artifacts/leaderboard/.
"""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from leaderboard_fixtures import (
    FLIPS,
    LLAMA,
    PWN_GROUP,
    PWN_IMG,
    PWN_SCRIPT,
    PWN_SET,
    PWN_TASK,
    PWN_TITLE,
    SMOL,
    SMOL_BASE,
    results,
    task,
    write_fixture_runs,
)

from instructeval.leaderboard import build_site, site_server
from instructeval.run import save_results

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "leaderboard"
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-extensions",
    "--disable-sync",
    "--no-first-run",
    "--dns-prefetch-disable",
    "--window-size=1200,800",
)
HOOK = """
window.__dialogs = [];
window.__violations = [];
for (const name of ["alert", "confirm", "prompt"]) {
  window[name] = (message) => { window.__dialogs.push(name + ":" + String(message)); };
}
document.addEventListener("securitypolicyviolation", (e) => {
  window.__violations.push(e.violatedDirective + " " + e.blockedURI);
});
"""
INERT = """
return {
  pwned: typeof window.__pwned,
  dialogs: window.__dialogs,
  violations: window.__violations,
  injected: document.querySelectorAll("img, iframe, object, embed, body script:not([src])").length,
  outside: performance.getEntriesByType("resource").map((e) => e.name)
    .filter((u) => !u.startsWith(location.protocol + "//" + location.host)),
};
"""


def _chromium() -> tuple[str, str]:
    browser, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not browser or not driver:
        pytest.fail(
            "the leaderboard browser tests need Debian's chromium and chromium-driver on PATH: "
            "apt-get install -y chromium chromium-driver"
        )
    return browser, driver


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium for the module; a missing browser fails (CI must install it), it never skips."""
    browser_path, driver_path = _chromium()
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.fail("the leaderboard browser tests need selenium: pip install -e '.[dev]'")
    options = webdriver.ChromeOptions()
    options.binary_location = browser_path
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_experimental_option("browserStartupTimeout", 240_000)  # ms; a busy 2-core machine needs more than 60 s
    driver = webdriver.Chrome(options=options, service=Service(driver_path))
    driver.set_page_load_timeout(180)
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": HOOK})
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("leaderboard")
    write_fixture_runs(root / "runs")
    build_site([root / "runs"], root / "site", title=PWN_TITLE)
    return root / "site"


@pytest.fixture(scope="module")
def meta_site(site: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixture runs with a --models-meta file: INSTRUCTEVAL's three factors (hostile for one model), and a
    size and hostile family for a model whose name says neither."""
    root = tmp_path_factory.mktemp("meta")
    meta = {
        SMOL: {"base": "SmolLM2-135M", "instruction_data": "smol-smoltalk", "method": "SFT+DPO"},
        SMOL_BASE: {"base": "SmolLM2-135M", "method": "pretrained"},
        LLAMA: {"base": "Llama-3.1-8B", "instruction_data": "public + synthetic", "method": "SFT+RLHF"},
        PWN_IMG: {"base": PWN_SCRIPT, "instruction_data": PWN_SET, "method": PWN_TASK},
        PWN_SCRIPT: {"family": PWN_GROUP, "size": "1.7B"},
    }
    (root / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    build_site([site.parent / "runs"], root / "site", title=PWN_TITLE, models_meta=root / "meta.json")
    return root / "site"


@pytest.fixture(scope="module")
def built(site: Path) -> dict[str, Any]:
    """data/leaderboard.json, the site's own copy of what it shows."""
    return json.loads((site / "data" / "leaderboard.json").read_text(encoding="utf-8"))


def wait_ready(driver: Any) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, 120).until(lambda d: d.execute_script("return document.body.dataset.ready === '1'"))


def open_page(driver: Any, url: str) -> None:
    driver.get(url)
    wait_ready(driver)


def assert_inert(driver: Any, shot: str | None = None) -> None:
    """No hostile text ran, nothing was injected, nothing was fetched from outside the site; save a screenshot."""
    if shot:  # a few only: a screenshot costs seconds of software rendering on a 2-core machine
        driver.save_screenshot(str(ARTIFACTS / f"{shot}.png"))
    state = driver.execute_script(INERT)
    assert state == {"pwned": "undefined", "dialogs": [], "violations": [], "injected": 0, "outside": []}


def column(driver: Any, col: str) -> list[str]:
    """The raw values (data-value, '' when missing) of a score column, top to bottom."""
    return driver.execute_script(
        "return [...document.querySelectorAll('#board tbody td[data-col=\"' + arguments[0] + '\"]')]"
        ".map((td) => td.dataset.value)",
        col,
    )


def names(driver: Any) -> list[str]:
    return driver.execute_script(
        "return [...document.querySelectorAll('#board tbody tr td:first-child')].map((td) => td.textContent)"
    )


def row_of(driver: Any, name: str) -> dict[str, dict[str, Any]]:
    """A table row's score cells by column id: raw value, shown text, missing or not."""
    return driver.execute_script(
        """
        const row = [...document.querySelectorAll('#board tbody tr')]
          .find((tr) => tr.cells[0].textContent === arguments[0]);
        const shown = (td) => ({value: td.dataset.value, text: td.querySelector('.v').textContent,
                                missing: td.classList.contains('missing')});
        return Object.fromEntries([...row.querySelectorAll('td[data-col]')].map((td) => [td.dataset.col, shown(td)]));
        """,
        name,
    )


def click(driver: Any, css: str) -> None:
    driver.find_element("css selector", css).click()


def open_view(driver: Any, view: str) -> None:
    """Click a view's tab and wait for its table: tabs change the URL's hash, and hashchange redraws later."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    click(driver, f"#tabs a[data-view='{view}']")
    # the redraw replaces #board: a table found just before it is gone when read, so look again
    WebDriverWait(driver, 30, ignored_exceptions=(StaleElementReferenceException,)).until(
        lambda d: d.find_element("css selector", "#board").get_attribute("data-view") == view
    )


def test_index_values_match_results(browser: Any, site: Path, built: dict[str, Any]) -> None:
    open_page(browser, (site / "index.html").as_uri())
    assert browser.title == PWN_TITLE
    assert browser.find_element("css selector", "h1").text == PWN_TITLE
    smol = row_of(browser, SMOL)
    # The newest complete run (mmlu 0.29), not the newer failed one (0.99) nor the older one (0.20).
    assert float(smol["mmlu"]["value"]) == 0.29 and smol["mmlu"]["text"] == "29.0%"
    view = next(v for v in built["views"] if v["id"] == "problem-solving")
    index = [m["name"] for m in built["models"]].index(SMOL)
    expected = next(r for r in view["rows"] if r["model"] == index)["cells"]
    shown = [float(smol[c["id"]]["value"]) for c in view["columns"] if not c["hidden"]]
    assert shown == [c[0] for c, col in zip(expected, view["columns"], strict=True) if not col["hidden"]]
    llama = row_of(browser, LLAMA)
    assert llama["drop"] == {"value": "", "text": "—", "missing": True}
    assert llama["average"]["missing"]  # one task missing: the average is missing, not averaged over a 0
    assert llama["crass"] == {"value": "0", "text": "0.0%", "missing": False}  # a real zero stays a zero
    assert set(names(browser)) >= {PWN_IMG, PWN_SCRIPT}
    assert "null" not in browser.execute_script("return document.getElementById('main').textContent")
    assert_inert(browser, "index")


def test_sort_both_ways_missing_last(browser: Any) -> None:
    click(browser, "th button[data-col='average']")  # the default sort (descending), so this flips it
    ascending = column(browser, "average")
    click(browser, "th button[data-col='average']")
    descending = column(browser, "average")
    known = [float(v) for v in descending if v]
    assert known == sorted(known, reverse=True) and len(known) >= 2
    assert [float(v) for v in ascending if v] == sorted(known)
    assert ascending[len(known) :] == [""] * (len(descending) - len(known))
    assert descending[len(known) :] == [""] * (len(descending) - len(known))
    click(browser, "th button[data-key='t0']")
    up = names(browser)
    click(browser, "th button[data-key='t0']")
    assert up == sorted(up, key=str.lower) and names(browser) == up[::-1]
    assert browser.find_element("css selector", "th[aria-sort='descending'] button").get_attribute("data-key") == "t0"


def test_filter_by_name_family_size_and_columns(browser: Any) -> None:
    from selenium.webdriver.support.ui import Select

    search = browser.find_element("css selector", "#filter-name")
    search.send_keys("LLAMA")
    assert names(browser) == [LLAMA]
    search.clear()
    search.send_keys("x")  # clear() sends no input event; typing then deleting does
    search.send_keys("\b")
    Select(browser.find_element("css selector", "#filter-family")).select_by_visible_text("SmolLM2")
    assert sorted(names(browser)) == sorted([SMOL, SMOL.removesuffix("-Instruct")])
    Select(browser.find_element("css selector", "#filter-family")).select_by_index(0)
    Select(browser.find_element("css selector", "#filter-size")).select_by_visible_text("1B to 10B")
    assert names(browser) == [LLAMA]
    Select(browser.find_element("css selector", "#filter-size")).select_by_visible_text("unknown size")
    assert sorted(names(browser)) == sorted([PWN_IMG, PWN_SCRIPT])
    Select(browser.find_element("css selector", "#filter-size")).select_by_index(0)
    assert len(names(browser)) == 5
    click(browser, "details.columns summary")
    click(browser, "input[data-col='mmlu']")
    assert column(browser, "mmlu") == []
    click(browser, f"input[data-col='{PWN_TASK}']")  # a hidden extra column, shown on demand, named literally
    assert browser.execute_script(
        "return [...document.querySelectorAll('#board thead button')]"
        ".some((b) => b.textContent.startsWith(arguments[0]))",
        PWN_TASK,
    )
    assert [v for v in column(browser, PWN_TASK) if v] == ["0.5"]


def test_other_views(browser: Any, built: dict[str, Any]) -> None:
    counts = {v["id"]: len(v["rows"]) for v in built["views"]}
    assert counts == {
        "problem-solving": 5, "settings": 3, "writing": 3, "alignment": 3, "knowledge": 2, "comparisons": 1
    }  # fmt: skip
    for view, count in counts.items():
        open_view(browser, view)
        assert len(browser.find_elements("css selector", "#board tbody tr")) == count
        assert_inert(browser, "view-comparisons" if view == "comparisons" else None)
    star = browser.find_element("css selector", "#board td[data-col='mmlu']")
    assert star.get_attribute("data-value") == "0.05" and "★" in star.text and "+5.0%" in star.text
    assert browser.find_element("css selector", "#board td[data-col='bbh']").text.startswith("+1.0%")
    open_view(browser, "knowledge")
    cells = browser.execute_script("return [...document.querySelectorAll('#board td')].map((td) => td.textContent)")
    assert PWN_SET in cells and PWN_IMG in cells
    captions = browser.execute_script(
        "return [...document.querySelectorAll('section.curves figcaption a')].map((a) => a.textContent)"
    )
    assert sorted(captions) == sorted([f"{SMOL} · invented:reversal · finetune", f"{PWN_IMG} · {PWN_SET} · finetune"])
    assert len(browser.find_elements("css selector", "section.curves svg.curve polyline")) == 4


def headers(driver: Any) -> list[str]:
    """The score columns' ids, left to right."""
    return driver.execute_script(
        "return [...document.querySelectorAll('#board thead button[data-col]')].map((b) => b.dataset.col)"
    )


def test_settings_view_one_setting_per_column(browser: Any, site: Path, built: dict[str, Any]) -> None:
    """Pick a task: its settings side by side, rows = models; pick a setting: models sorted and charted by it.
    SmolLM2's older maj@8 and newer greedy run of gsm8k's default setting are two settings, not the newest."""
    open_page(browser, (site / "index.html").as_uri())
    open_view(browser, "settings")
    assert headers(browser) == ["mmlu@0shot-direct", "mmlu@5shot-direct"]
    assert {k: v["value"] for k, v in row_of(browser, SMOL).items()} == {
        "mmlu@0shot-direct": "0.26", "mmlu@5shot-direct": "0.29"
    }  # fmt: skip
    choose(browser, "#pick-task", "gsm8k")
    gsm8k = ["gsm8k@0shot-direct", "gsm8k@8shot-direct", "gsm8k@0shot-cot", "gsm8k@8shot-cot", "gsm8k@8shot-cot+maj8"]
    assert headers(browser) == gsm8k
    assert [row_of(browser, SMOL)[c]["value"] for c in gsm8k] == ["0.05", "0.09", "0.18", "0.27", "0.4"]
    assert [row_of(browser, LLAMA)[c]["value"] for c in gsm8k] == ["", "", "0.5", "0.64", ""]
    view = next(v for v in built["views"] if v["id"] == "settings")
    zero_shot_cot = [c["id"] for c in view["columns"]].index("gsm8k@0shot-cot")
    choose(browser, "#pick-setting", str(zero_shot_cot))
    assert names(browser) == [LLAMA, SMOL, PWN_IMG] and column(browser, "gsm8k@0shot-cot") == ["0.5", "0.18", ""]
    bars = browser.execute_script(
        "return [...document.querySelectorAll('#chart svg text.value')].map((t) => t.textContent)"
    )
    assert bars == ["50.0%", "18.0%"]
    choose(browser, "#pick-task", PWN_TASK)  # a hostile task name: an option's text, a column, nothing run
    assert (
        headers(browser) == [f"{PWN_TASK}@0shot-cot"]
        and row_of(browser, PWN_IMG)[headers(browser)[0]]["value"] == "0.7"
    )
    assert_inert(browser, "view-settings")


def test_models_meta_columns_filters_and_groups(browser: Any, meta_site: Path) -> None:
    """--models-meta's base, instruction data and method are columns, filters and groupings; hostile values stay
    text in cells, options and group headers."""
    open_page(browser, (meta_site / "index.html").as_uri())
    labels = browser.execute_script(
        "return [...document.querySelectorAll('#board thead th')].map((t) => t.textContent)"
    )
    assert labels[:6] == ["Model", "Family", "Size", "Base model", "Instruction data", "Method"]
    assert row_of(browser, PWN_IMG)  # its hostile meta is shown as text
    choose(browser, "#filter-method", "f:SFT+DPO")
    assert names(browser) == [SMOL]
    choose(browser, "#filter-method", "")
    choose(browser, "#filter-instruction_data", "?")
    assert sorted(names(browser)) == sorted([SMOL_BASE, PWN_SCRIPT])
    choose(browser, "#filter-instruction_data", "")
    choose(browser, "#group-by", "base")
    lines = browser.execute_script(
        "return [...document.querySelectorAll('#board tbody tr')].map((tr) => tr.classList.contains('group-head') "
        "? 'group ' + tr.dataset.group : tr.cells[0].textContent)"
    )
    assert lines == [
        f"group {PWN_SCRIPT}", PWN_IMG, "group Llama-3.1-8B", LLAMA, "group SmolLM2-135M", SMOL, SMOL_BASE,
        "group ", PWN_SCRIPT,
    ]  # fmt: skip
    heads = browser.execute_script("return [...document.querySelectorAll('tr.group-head')].map((tr) => tr.textContent)")
    assert heads[2] == "base model: SmolLM2-135M (2 rows)" and heads[3] == "base model unknown (1 row)"
    assert_inert(browser, "grouped-by-base")
    choose(browser, "#group-by", "")
    browser.find_element("link text", PWN_IMG).click()  # its page states the three factors, as text
    wait_ready(browser)
    facts = browser.execute_script(
        "return [...document.querySelectorAll('section.summary dd')].map((d) => d.textContent)"
    )
    assert facts[-3:] == [PWN_SCRIPT, PWN_SET, PWN_TASK]
    assert_inert(browser)
    browser.back()
    wait_ready(browser)


def series(driver: Any) -> dict[str, list[list[float]]]:
    """The size chart's lines: family -> [parameters, value] of each point, in size order."""
    return driver.execute_script(
        "return Object.fromEntries([...document.querySelectorAll('#size-chart g.series')].map((g) => [g.dataset.family,"
        " [...g.querySelectorAll('circle.point')].map((c) => [Number(c.dataset.params), Number(c.dataset.value)])]))"
    )


def test_score_against_size_per_family(browser: Any, meta_site: Path, built: dict[str, Any]) -> None:
    """One line per family over its models' sizes, with CI whiskers; a model of unknown size is left out and
    named, never drawn at 0; the chart follows the chosen column."""
    from selenium.webdriver.support.ui import WebDriverWait

    view = next(v for v in built["views"] if v["id"] == "problem-solving")
    ids = [c["id"] for c in view["columns"]]
    choose(browser, "#chart-column", str(ids.index("mmlu")))
    assert series(browser) == {}  # drawn when opened
    click(browser, "#size-box summary")
    WebDriverWait(browser, 30).until(lambda d: series(d))  # the toggle event draws it, after the click returns
    assert series(browser) == {
        "Llama-3.1": [[8e9, pytest.approx(60.0)]],
        "SmolLM2": [[1.35e8, pytest.approx(20.0)], [1.35e8, pytest.approx(29.0)]],
    }
    assert len(browser.find_elements("css selector", "#size-chart line.whisker")) == 3
    note = browser.find_element("css selector", "#size-left-out").text
    assert f"Left out, not placed at 0: 1 of unknown size ({PWN_IMG})" in note
    choose(browser, "#chart-column", str(ids.index("gsm8k")))  # a hostile family names a line, as text
    assert series(browser) == {
        PWN_GROUP: [[1.7e9, pytest.approx(12.0)]],
        "Llama-3.1": [[8e9, pytest.approx(64.0)]],
        "SmolLM2": [[1.35e8, pytest.approx(20.0)], [1.35e8, pytest.approx(27.0)]],
    }
    legend = browser.execute_script(
        "return [...document.querySelectorAll('#size-chart g.series > text')].map((t) => t.firstChild.nodeValue)"
    )
    assert legend[1:] == ["Llama-3.1", "SmolLM2"] and legend[0].startswith(PWN_GROUP[:20])
    browser.execute_script("document.getElementById('size-box').scrollIntoView()")
    assert_inert(browser, "size-chart")


def flip_cards(driver: Any) -> list[dict[str, str]]:
    return driver.execute_script(
        "return [...document.querySelectorAll('#flips article.flip')].map((a) => "
        "({direction: a.dataset.direction, subtask: a.dataset.subtask, text: a.textContent}))"
    )


def choose(driver: Any, select: str, value: str) -> None:
    from selenium.webdriver.support.ui import Select

    Select(driver.find_element("css selector", select)).select_by_value(value)


def test_diff_page_lists_flipped_examples_with_filters(browser: Any, site: Path) -> None:
    """The base -> tuned row links to its diff page: every flipped example with both answers, filtered by
    subtask and direction; hostile prompts, targets, outputs, options and reasons stay text."""
    open_page(browser, (site / "index.html").as_uri())
    open_view(browser, "comparisons")
    link = browser.find_element("css selector", "#board a.diff-link")
    assert link.text == f"{len(FLIPS)} flipped"
    link.click()
    wait_ready(browser)
    assert browser.current_url.endswith("diffs/comparison-0.html")
    assert browser.find_element("css selector", "#diff-title").text == f"hf:{SMOL_BASE} → hf:{SMOL}"
    verdicts = browser.execute_script(
        "return [...document.querySelectorAll('section.verdicts tbody tr')].map((tr) => tr.dataset.verdict)"
    )
    assert verdicts == ["better", "inconclusive"]
    cards = flip_cards(browser)
    assert [c["direction"] for c in cards] == [f.direction for f in FLIPS]
    for card, flipped in zip(cards, FLIPS, strict=True):
        for text in (flipped.target, flipped.prompt, flipped.base_output, flipped.other_output, *flipped.base_reasons):
            assert text in card["text"]
    assert browser.find_element("css selector", "#flip-count").text == "3 of 3 flipped examples"
    choose(browser, "#filter-direction", "regressed")
    assert [c["text"] for c in flip_cards(browser)] == [cards[1]["text"]]
    choose(browser, "#filter-direction", "")
    choose(browser, "#filter-subtask", PWN_GROUP)
    assert [c["subtask"] for c in flip_cards(browser)] == [PWN_GROUP]
    choose(browser, "#filter-direction", "regressed")
    assert flip_cards(browser) == [] and browser.find_element("css selector", "#flip-count").text.startswith("0 of 3")
    choose(browser, "#filter-subtask", "")
    choose(browser, "#filter-direction", "")
    assert_inert(browser, "diff")
    browser.find_element("link text", f"hf:{SMOL}").click()  # the tuned model's page links back to the diff page
    wait_ready(browser)
    back = browser.find_element("css selector", "section.comparisons a.diff-link")
    assert back.text == "3 flipped examples" and back.get_attribute("href").endswith("diffs/comparison-0.html")
    assert_inert(browser)


def test_a_contaminated_score_is_marked_with_its_clean_score(browser: Any, site: Path) -> None:
    open_page(browser, (site / "index.html").as_uri())
    marks = browser.execute_script(
        "return [...document.querySelectorAll('#board td .contaminated')]"
        ".map((m) => [m.closest('tr').cells[0].textContent, m.closest('td').dataset.col, m.title])"
    )
    assert [m[:2] for m in marks] == [[LLAMA, "gsm8k"]]
    assert "40 of 200 examples (20.0%) share a 13-gram with train.jsonl; clean-subset score 58.0%" in marks[0][2]
    browser.find_element("link text", LLAMA).click()
    wait_ready(browser)
    note = browser.find_element("css selector", 'article.task[data-task="gsm8k"] .contamination-note').text
    assert "clean subset 58.0%, 95% CI 50.0\u201366.0%" in note and "dirty \u2212 clean +30.0%" in note
    assert_inert(browser)


def test_model_page(browser: Any, site: Path, built: dict[str, Any]) -> None:
    open_page(browser, (site / "index.html").as_uri())
    browser.find_element("link text", SMOL).click()
    wait_ready(browser)
    detail = next(m for m in built["models"] if m["name"] == SMOL)
    assert browser.current_url.endswith(detail["page"])
    assert browser.find_element("css selector", "#model-name").text == SMOL
    text = browser.execute_script("return document.getElementById('main').textContent")
    for needle in ("data-mmlu-hash", "prompt-mmlu-hash", "rev-HuggingFaceTB/SmolLM2-135M-Instruct", "0.1.0"):
        assert needle in text
    mmlu = browser.execute_script(
        """
        const task = document.querySelector('article.task[data-task="mmlu"]');
        const cells = [...task.querySelectorAll('[data-col]')];
        return Object.fromEntries(cells.map((e) => [e.dataset.col, e.dataset.value]));
        """
    )
    assert float(mmlu["mmlu"]) == 0.29 and float(mmlu["subject:anatomy"]) == 0.31
    assert float(mmlu["extra_metric"]) == 0.145
    assert len(browser.find_elements("css selector", "svg.radar circle")) == 7
    grid = browser.execute_script(
        "return [...document.querySelectorAll('section.settings td[data-col]')]"
        ".map((td) => [td.dataset.col, td.dataset.value])"
    )
    assert dict(grid) == {
        "mmlu@0shot-direct": "0.26", "mmlu@5shot-direct": "0.29", "gsm8k@0shot-direct": "0.05",
        "gsm8k@8shot-direct": "0.09", "gsm8k@0shot-cot": "0.18", "gsm8k@8shot-cot": "0.27",
        "gsm8k@8shot-cot+maj8": "0.4",
    }  # fmt: skip
    swings = browser.execute_script(
        "return [...document.querySelectorAll('section.settings td.swing')].map((td) => td.textContent)"
    )
    assert swings == ["3.0 vs 6.0 points (within noise)", "35.0 vs 6.0 points (above noise)"]
    assert len(browser.find_elements("css selector", "section.runs tbody tr")) == 3
    assert len(browser.find_elements("css selector", "section.comparisons tbody tr")) == 2
    lines = browser.execute_script(
        """
        const chart = document.querySelector('section.knowledge svg.curve');
        return [...chart.querySelectorAll('polyline')].map((line) => line.dataset.split);
        """
    )
    assert lines == ["memorisation", "reversal"]
    dots = browser.execute_script(
        "return [...document.querySelectorAll('section.knowledge svg.curve circle')]"
        ".map((dot) => Number(dot.dataset.value))"
    )
    assert dots == pytest.approx([0.6 * e / 4 for e in (1, 2, 3, 4)] + [0.3] * 4)
    assert len(browser.find_elements("css selector", "section.knowledge svg.curve polygon.band")) == 2
    assert_inert(browser, "model")


def test_hostile_model_page(browser: Any, site: Path, built: dict[str, Any]) -> None:
    page = next(m["page"] for m in built["models"] if m["name"] == PWN_IMG)
    open_page(browser, (site / page).as_uri())
    assert browser.find_element("css selector", "#model-name").text == PWN_IMG
    assert browser.title == f"{PWN_IMG} · {PWN_TITLE}"
    text = browser.execute_script("return document.getElementById('main').textContent")
    for hostile in (PWN_TASK, PWN_GROUP, PWN_SET):
        assert hostile in text
    assert_inert(browser, "model-hostile")


def test_served_over_http(browser: Any, site: Path) -> None:
    server = site_server(site, 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        open_page(browser, f"http://127.0.0.1:{server.server_address[1]}/index.html#alignment")
        assert browser.find_element("css selector", "#board").get_attribute("data-view") == "alignment"
        labels = browser.execute_script(
            "return [...document.querySelectorAll('#board thead th')].map((t) => t.textContent)"
        )
        assert any(label.startswith(PWN_GROUP) for label in labels)
        assert_inert(browser)
    finally:
        server.shutdown()
        server.server_close()


def test_long_board_pages_and_sorts_across_pages(browser: Any, tmp_path: Path) -> None:
    many = 130  # more than one page of 100 rows
    for i in range(many):
        name = f"model-{i:03d}"
        save_results(
            tmp_path / "runs" / name,
            results(f"hf:{name}", name, "2026-02-01T10:00:00Z", {"mmlu": task("mmlu", (i * 37 % many) / many)}),
        )
    build_site([tmp_path / "runs"], tmp_path / "site")
    open_page(browser, (tmp_path / "site" / "index.html").as_uri())
    count = browser.find_element("css selector", "#count")
    assert len(names(browser)) == 100 and "(rows 1 to 100 drawn)" in count.text
    click(browser, "th button[data-col='mmlu']")  # descending, across all rows, not just the page drawn
    first_page = column(browser, "mmlu")
    click(browser, "#page-next")
    second_page = column(browser, "mmlu")
    assert len(second_page) == many - 100 and "(rows 101 to 130 drawn)" in count.text
    values = [float(v) for v in first_page + second_page]
    assert values == sorted(values, reverse=True) and len(set(names(browser))) == many - 100
    click(browser, "#page-all")
    assert len(names(browser)) == many and "drawn" not in browser.find_element("css selector", "#count").text
    browser.find_element("css selector", "#filter-name").send_keys("model-12")  # a filter goes back to page 1
    assert sorted(names(browser)) == [f"model-{i}" for i in range(120, 130)]
