"""The leaderboard builder without a browser: run selection, missing values, escaping, downloads, CLI, preview."""

from __future__ import annotations

import csv
import io
import json
import math
import random
import re
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from leaderboard_fixtures import (
    HOSTILE,
    LLAMA,
    LLAMA_JUDGE,
    PWN_IMG,
    PWN_SET,
    PWN_TASK,
    PWN_TITLE,
    SMOL,
    SMOL_BASE,
    results,
    write_fixture_runs,
    writing_section,
)

from instructeval.cli import main
from instructeval.errors import InstructEvalError
from instructeval.leaderboard import build_site, script_json, site_server
from instructeval.leaderboard._meta import identify, parse_size
from instructeval.leaderboard._render import view_csv
from instructeval.leaderboard._views import disambiguate, display_name, round6
from instructeval.results import ModelInfo
from instructeval.run import save_results

OUTSIDE = re.compile(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}/|@import|url\(|fetch\(|XMLHttpRequest")
"""What a request to somewhere else would look like in the site's own HTML, JS or CSS."""


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("runs")
    write_fixture_runs(root)
    return root


@pytest.fixture(scope="module")
def site(runs: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    build_site([runs], out, title=PWN_TITLE)
    return out


def load(site: Path) -> dict[str, Any]:
    return json.loads((site / "data" / "leaderboard.json").read_text(encoding="utf-8"))


def model(data: dict[str, Any], name: str) -> dict[str, Any]:
    return next(m for m in data["models"] if m["name"] == name)


def task_value(detail: dict[str, Any], task: str) -> float | None:
    cell = next(t for t in detail["tasks"] if t["task"] == task)["cell"]
    return cell[0] if cell else None


def test_newest_complete_run_per_task(site: Path, runs: Path, tmp_path: Path) -> None:
    data = load(site)
    smol = model(data, SMOL)
    assert task_value(smol, "mmlu") == 0.29  # the newer complete run, not the failed one (0.99) nor the old one
    assert [r["status"] for r in smol["runs"]] == ["failed", "complete", "complete"]
    run_of = {t["task"]: smol["runs"][t["provenance"]["run_index"]]["run"] for t in smol["tasks"]}
    # the older run's maj@8 of gsm8k is another setting than the newer greedy one: both are kept
    assert run_of.pop("gsm8k+maj8") == f"{runs.name}/smol/old"
    assert set(run_of.values()) == {f"{runs.name}/smol/new"}
    build_site([runs], tmp_path / "site", include_incomplete=True)
    assert task_value(model(load(tmp_path / "site"), SMOL), "mmlu") == 0.99


def test_missing_is_missing_never_zero(site: Path) -> None:
    data = load(site)
    llama = model(data, LLAMA)
    assert llama["average"]["cell"] is None  # DROP was not run: no average over a made-up 0
    assert "drop" not in {t["task"] for t in llama["tasks"]}
    assert task_value(llama, "crass") == 0.0  # a measured zero is a zero
    rows = list(csv.DictReader(io.StringIO((site / "data" / "problem-solving.csv").read_text(encoding="utf-8"))))
    row = next(r for r in rows if r["Model"] == LLAMA)
    assert (row["drop"], row["average"], row["crass"]) == ("", "", "0.0")
    average = next(r for r in rows if r["Model"] == SMOL)["average"]
    assert float(average) == pytest.approx((0.29 + sum(0.25 + 0.01 * i for i in range(1, 7))) / 7, abs=1e-6)


def test_views_and_comparisons(site: Path) -> None:
    data = load(site)
    views = {v["id"]: v for v in data["views"]}
    assert [c["id"] for c in views["problem-solving"]["columns"] if not c["hidden"]] == [
        "mmlu", "bbh", "gsm8k", "mgsm", "humaneval", "drop", "crass", "average"
    ]  # fmt: skip
    comparison = views["comparisons"]["rows"][0]
    names = [m["name"] for m in data["models"]]
    assert comparison["links"][:2] == [names.index(SMOL_BASE), names.index(SMOL)]
    assert comparison["cells"][0][:3] == [0.05, 0.02, 0.08] and comparison["cells"][0][5] is True
    assert model(data, SMOL)["comparisons"][0]["file"].endswith("comparison-vs-smol-base-run.json")
    knowledge = views["knowledge"]
    assert [c["id"] for c in knowledge["columns"]] == ["base:memorisation", "base:reversal", "icl:memorisation",
                                                      "icl:reversal", "finetune:memorisation",
                                                      "finetune:reversal"]  # fmt: skip
    curves = {c["label"]: c["curve"] for c in knowledge["curves"]}
    assert set(curves) == {f"{SMOL} · invented:reversal · finetune", f"{PWN_IMG} · {PWN_SET} · finetune"}
    (curve,) = [k["curve"] for k in model(data, SMOL)["knowledge"] if k["curve"]]
    assert curves[f"{SMOL} · invented:reversal · finetune"] == curve
    assert curve["scorer"] == "exact" and curve["epochs"] == [1, 2, 3, 4]
    memorisation = next(line for line in curve["lines"] if line["split"] == "memorisation")
    assert [p[:2] for p in memorisation["points"]] == [[e, pytest.approx(0.6 * e / 4)] for e in (1, 2, 3, 4)]
    writing = views["writing"]
    assert writing["columns"][-1]["id"] == "coherence:overall"
    warnings = {row["text"][0]: row["text"][-1] for row in writing["rows"]}
    assert warnings[SMOL] is None and warnings[LLAMA].startswith(f"⚠ self-preference risk: judge {LLAMA_JUDGE}")
    assert model(data, LLAMA)["writing"]["warnings"] == [warnings[LLAMA].removeprefix("⚠ ")]
    assert all(re.fullmatch(r"models/[A-Za-z0-9._-]+\.html", m["page"]) for m in data["models"])


def test_hostile_text_never_reaches_html_raw(site: Path) -> None:
    pages = [site / "index.html", *sorted((site / "models").iterdir())]
    for page in pages:
        text = page.read_text(encoding="utf-8")
        for hostile in (*HOSTILE, PWN_TITLE):
            assert hostile not in text, (page.name, hostile)
        assert len(re.findall(r"<script\b", text)) == 3  # the data block and two scripts of our own
        embedded = re.search(r'<script type="application/json" id="site-data">(.*?)</script>', text, re.S)
        assert embedded and "<" not in embedded.group(1)
        json.loads(embedded.group(1))
    index = (site / "index.html").read_text(encoding="utf-8")
    assert "<title>&lt;b&gt;board&lt;/b&gt;&lt;script&gt;window.__pwned=5&lt;/script&gt;</title>" in index
    assert PWN_IMG in json.dumps(load(site))


def test_script_json_is_inert_and_round_trips() -> None:
    payload = {"name": "</script><!-- <script>alert(1)</script> & more", "x": [1.5, None]}
    text = script_json(payload)
    assert not {"<", ">", "&"} & set(text)
    assert json.loads(text) == payload


def test_csv_cells_cannot_start_a_formula() -> None:
    view = {
        "text_columns": [{"label": "Model"}, {"label": "Family"}],
        "columns": [{"id": "mmlu"}],
        "rows": [{"text": ['=HYPERLINK("http://x")', None], "cells": [None]}],
    }
    rows = list(csv.reader(io.StringIO(view_csv(view))))
    assert rows[1] == ['\'=HYPERLINK("http://x")', "", "", "", "", ""]


@pytest.mark.parametrize(
    ("name", "family", "size", "params"),
    [
        ("HuggingFaceTB/SmolLM2-135M-Instruct", "SmolLM2", "135M", 1.35e8),
        ("meta-llama/Llama-3.1-8B-Instruct", "Llama-3.1", "8B", 8e9),
        ("mistralai/Mixtral-8x7B-Instruct-v0.1", "Mixtral", "8x7B", 5.6e10),
        ("/models/qwen2.5-1.5b", "qwen2.5", "1.5B", 1.5e9),
        ("gpt-4o-mini", None, None, None),
    ],
)
def test_family_and_size_from_the_name(name: str, family: str | None, size: str | None, params: float | None) -> None:
    found = identify(name)
    assert (found.family, found.size) == (family, size)
    assert found.params == pytest.approx(params) if params else found.params is None


def test_models_meta_overrides_and_errors(runs: Path, tmp_path: Path) -> None:
    meta = tmp_path / "meta.yaml"
    meta.write_text(f"{PWN_IMG!r}: {{family: Hostile, size: 7B, url: 'https://example.org/card'}}\n", encoding="utf-8")
    build_site([runs], tmp_path / "site", models_meta=meta)
    hostile = model(load(tmp_path / "site"), PWN_IMG)
    assert (hostile["family"], hostile["size"], hostile["params"], hostile["url"]) == (
        "Hostile", "7B", 7e9, "https://example.org/card"
    )  # fmt: skip
    meta.write_text("x: {url: 'javascript:alert(1)'}\n", encoding="utf-8")
    with pytest.raises(InstructEvalError, match="not an http"):
        build_site([runs], tmp_path / "site", models_meta=meta)
    assert parse_size("8x7B") == 5.6e10 and parse_size("big") is None


def test_models_meta_factors_are_columns_and_bad_entries_refused(site: Path, runs: Path, tmp_path: Path) -> None:
    meta = tmp_path / "meta.yaml"
    meta.write_text(
        f"{SMOL}: {{base: SmolLM2-135M, instruction_data: smol-smoltalk, method: SFT+DPO}}\n"
        f"{PWN_IMG!r}: {{base: {PWN_SET!r}}}\n",
        encoding="utf-8",
    )
    build_site([runs], tmp_path / "site", models_meta=meta)
    data = load(tmp_path / "site")
    smol = model(data, SMOL)
    assert (smol["base"], smol["instruction_data"], smol["method"]) == ("SmolLM2-135M", "smol-smoltalk", "SFT+DPO")
    view = next(v for v in data["views"] if v["id"] == "problem-solving")
    assert [c["id"] for c in view["text_columns"]] == ["model", "family", "size", "base", "instruction_data", "method"]
    assert [c["id"] for c in load(site)["views"][0]["text_columns"]] == ["model", "family", "size"]  # none given
    texts = {row["text"][0]: row["text"][3:6] for row in view["rows"]}
    assert texts[SMOL] == ["SmolLM2-135M", "smol-smoltalk", "SFT+DPO"] and texts[PWN_IMG] == [PWN_SET, None, None]
    header = (tmp_path / "site" / "data" / "problem-solving.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header.startswith("Model,Family,Size,Base model,Instruction data,Method,mmlu,")
    for entry, problem in (
        ('x: {base: "two\\nlines"}', "x', base: 'two\\nlines' is not a name: one line of 1 to 120 characters"),
        ("x: {method: [SFT, DPO]}", "x', method: Input should be a valid string"),
        ("x: {instruction_data: ''}", "is not a name"),
        ("x: {trainer: me}", "x', trainer: Extra inputs are not permitted; the keys are family, size, url, base,"),
    ):
        meta.write_text(entry + "\n", encoding="utf-8")
        with pytest.raises(InstructEvalError, match=re.escape(problem)) as refused:
            build_site([runs], tmp_path / "site", models_meta=meta)
        assert "\n" not in str(refused.value)


def test_settings_view_and_model_grid(site: Path) -> None:
    """Every setting of a task is its own column and grid row, a greedy and a voted run of one setting included;
    a result that records no setting is in none (SmolLM2-135M's mmlu), never in a setting's column."""
    data = load(site)
    view = next(v for v in data["views"] if v["id"] == "settings")
    columns = [c["id"] for c in view["columns"]]
    assert columns == [
        "mmlu@0shot-direct", "mmlu@5shot-direct", "gsm8k@0shot-direct", "gsm8k@8shot-direct", "gsm8k@0shot-cot",
        "gsm8k@8shot-cot", "gsm8k@8shot-cot+maj8", f"{PWN_TASK}@0shot-cot",
    ]  # fmt: skip
    assert [c["label"] for c in view["columns"]][5:7] == ["8-shot cot", "8-shot cot · maj@8"]
    names = [m["name"] for m in data["models"]]
    values = {names[r["model"]]: [c[0] if c else None for c in r["cells"]] for r in view["rows"]}
    assert values == {
        SMOL: [0.26, 0.29, 0.05, 0.09, 0.18, 0.27, 0.4, None],
        LLAMA: [None, None, None, None, 0.5, 0.64, None, None],
        PWN_IMG: [None] * 7 + [0.7],
    }
    rows = list(csv.reader(io.StringIO((site / "data" / "settings.csv").read_text(encoding="utf-8"))))
    smol = next(r for r in rows if r[0] == SMOL)
    at = rows[0].index("gsm8k@8shot-cot+maj8")
    assert smol[at : at + 4] == ["0.4", "0.37", "0.43", "200"]
    grid = {t["task"]: t for t in model(data, SMOL)["settings"]}
    assert [s["setting"] for s in grid["gsm8k"]["settings"]] == [
        "0-shot direct", "8-shot direct", "0-shot cot", "8-shot cot", "8-shot cot · maj@8"
    ]  # fmt: skip
    assert grid["gsm8k"]["swing"] == pytest.approx([0.35, 0.06]) and grid["mmlu"]["swing"] == pytest.approx(
        [0.03, 0.06]
    )
    assert model(data, LLAMA)["settings"][0]["swing"] == pytest.approx([0.14, 0.06])
    assert model(data, SMOL_BASE)["settings"] == []
    problem_solving = next(v for v in data["views"] if v["id"] == "problem-solving")
    gsm8k = next(c for c in problem_solving["columns"] if c["id"] == "gsm8k")
    assert gsm8k["title"] == "GSM8K: exact_match (8-shot cot)"  # the greedy default, not the newer-or-older vote
    assert task_value(model(data, SMOL), "gsm8k") == 0.27 and task_value(model(data, SMOL), "gsm8k+maj8") == 0.4


def test_cli_build_rebuild_and_errors(runs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "site"
    assert main(["leaderboard", "build", str(runs), "--out", str(out), "--title", "T", "--workers", "2"]) == 0
    assert "5 models from 7 runs, 1 comparisons" in capsys.readouterr().out
    (out / "assets" / "old.js").write_text("left by an older version", encoding="utf-8")
    assert main(["leaderboard", "build", str(runs / "llama"), "--out", str(out)]) == 0  # rebuilds over its own site
    assert len(list((out / "models").iterdir())) == 1  # the other models' pages are gone, and old files too
    assert not (out / "assets" / "old.js").exists() and (out / "assets" / "style.css").is_file()
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine", encoding="utf-8")
    meta = tmp_path / "meta.yaml"
    meta.write_text("x: {method: [SFT, DPO]}\n", encoding="utf-8")
    cases = [
        (["leaderboard", "build", str(tmp_path / "nope"), "--out", str(out)], "does not exist"),
        (["leaderboard", "build", str(tmp_path / "other"), "--out", str(out)], "no results.json"),
        (["leaderboard", "build", str(runs), "--out", str(tmp_path / "other")], "not empty"),
        (["leaderboard", "serve", str(tmp_path / "other")], "holds no index.html"),
        (["leaderboard", "build", str(runs), "--out", str(out), "--models-meta", str(meta)], "x', method: Input"),
        (["leaderboard", "build", str(runs), "--out", str(out), "--workers", "0"], "--workers 0 is not valid"),
    ]
    for argv, message in cases:
        assert main(argv) == 2
        error = capsys.readouterr().err
        assert message in error and error.count("\n") == 1, error
    assert (tmp_path / "other" / "notes.txt").read_text(encoding="utf-8") == "mine"


def test_preview_server_serves_the_site(site: Path) -> None:
    server = site_server(site, 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        with urllib.request.urlopen(f"{base}/index.html", timeout=30) as response:
            assert response.status == 200 and b'id="site-data"' in response.read()
        with urllib.request.urlopen(f"{base}/data/problem-solving.csv", timeout=30) as response:
            assert response.read().decode().startswith("Model,Family,Size,mmlu,")
    finally:
        server.shutdown()
        server.server_close()


def test_site_refers_to_nothing_outside_itself(site: Path) -> None:
    for path in site.rglob("*"):
        if path.suffix in (".html", ".js", ".css"):
            text = path.read_text(encoding="utf-8").replace('"http://www.w3.org/2000/svg"', "")
            assert not OUTSIDE.search(text), path
    assert sum(p.stat().st_size for p in (site / "assets").iterdir()) < 75_000


def _recounted_names(infos: list[ModelInfo]) -> list[str]:
    """The naming rule stated plainly: count the current list again before each rename."""
    names = [display_name(info) for info in infos]
    for attempt in ("backend", "spec"):
        for i, info in enumerate(infos):
            if names.count(names[i]) > 1:
                names[i] = f"{names[i]} ({getattr(info, attempt)})"
    return names


def test_repeated_names_are_told_apart_as_by_a_recount() -> None:
    rng = random.Random(7)
    for _ in range(200):
        infos = [
            ModelInfo(
                spec=f"{backend}:{name}-{rng.randrange(2)}", backend=backend, name=name, revision=None, adapter=None
            )
            for name, backend in ((rng.choice("abc"), rng.choice(("hf", "vllm"))) for _ in range(rng.randrange(1, 9)))
        ]
        assert disambiguate(infos) == _recounted_names(infos)


def _pages(out: Path) -> dict[str, tuple[int, bytes]]:
    return {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in sorted((out / "models").iterdir())}


def test_a_rebuild_renders_only_the_models_whose_runs_changed(tmp_path: Path) -> None:
    runs, out = tmp_path / "runs", tmp_path / "site"
    written = write_fixture_runs(runs)
    build_site([runs], out)
    first, first_data = _pages(out), load(out)

    build_site([runs], out)  # nothing changed: no page is written again, the same data is published
    assert _pages(out) == first
    assert load(out)["models"] == first_data["models"]

    label = next(label for label in written if label.startswith("llama"))
    changed = written[label].model_copy(deep=True)
    changed.tasks["mmlu"].metrics["acc"] = changed.tasks["mmlu"].metrics["acc"].model_copy(update={"value": 0.123})
    save_results(runs / label, changed)
    build_site([runs], out)
    after = _pages(out)
    rewritten = {name for name in after if after[name] != first[name]}
    assert len(rewritten) == 1 and task_value(model(load(out), LLAMA), "mmlu") == 0.123
    assert {m["name"]: m for m in load(out)["models"] if m["name"] != LLAMA} == {
        m["name"]: m for m in first_data["models"] if m["name"] != LLAMA
    }

    (out / ".instructeval-pages.json").write_text("{not json")  # a damaged cache only costs a full render
    build_site([runs], out, title="another title")
    assert all(after[name] != page for name, page in _pages(out).items())
    assert task_value(model(load(out), LLAMA), "mmlu") == 0.123


def test_judge_grades_are_never_shown_as_percentages(tmp_path: Path) -> None:
    """A writing column whose grades are all 1.0 (the bottom of the 1-5 scale) is still a grade, not 100 %."""
    runs = tmp_path / "runs"
    low = results("hf:org/low", "org/low", "2026-03-01T10:00:00+00:00", {}, writing=writing_section({"poetry": 1.0}))
    save_results(runs / "low" / "run", low)
    build_site([runs], tmp_path / "site")
    writing = next(v for v in load(tmp_path / "site")["views"] if v["id"] == "writing")
    assert writing["columns"] and all(c["scale"] == 1 and c["unit"] == "" for c in writing["columns"])


def test_round6_is_round_to_six_places_bit_for_bit() -> None:
    """Scores, CI bounds, differences and grades, numbers one step either side of every rounding tie near them,
    and the values round() must handle itself (a signed zero, large, nan, infinite)."""
    rng = random.Random(6)
    values = [rng.random() for _ in range(60_000)] + [rng.uniform(-5, 5) for _ in range(30_000)]
    values += [rng.uniform(-1e-5, 1e-5) for _ in range(10_000)] + [rng.uniform(-2e3, 2e3) for _ in range(10_000)]
    for i in range(0, 2_000_000, 97):
        tie = (i + 0.5) / 1e6
        values += [tie, -tie, math.nextafter(tie, 0.0), math.nextafter(tie, 1.0), i / 1e6]
    values += [0.0, -0.0, 1e-9, -1e-9, 5e-7, -5e-7, 999.9999995, 1e300, -1e300, math.inf, -math.inf]
    assert [repr(round6(v)) for v in values] == [repr(round(v, 6)) for v in values]
    assert math.isnan(round6(math.nan))


def test_the_leaderboard_starts_without_the_evaluation_libraries() -> None:
    """`leaderboard build` imports what reading results and writing pages need, not the fine-tuning clients or
    scipy that `inject` and the statistics import (they cost seconds of start-up)."""
    heavy = ("scipy", "openai", "torch", "transformers", "lm_eval", "instructeval.stats")
    code = f"import sys, instructeval.cli.leaderboard; print([m for m in {heavy!r} if m in sys.modules])"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
