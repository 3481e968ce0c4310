"""The demo model against itself with a LoRA adapter: `compare` verdicts and MDEs, and the leaderboard's diff page.

    .venv/bin/python scripts/demo_comparison.py OUT [--screenshot docs/diff-page.png]

The adapter is rank-4 LoRA on the q/v projections with its B matrices drawn at random (peft starts them at
0, which changes nothing): a stand-in for a tuned checkpoint that moves the log-likelihoods. Both runs score
two MMLU subjects, HHH and HHH-MC on the shipped demo subset; then `instructeval compare` writes the
comparison, `leaderboard build` the site, and headless Chromium (Debian's chromium + chromium-driver)
screenshots the comparison's diff page.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

TASKS = "mmlu_high_school_geography,mmlu_college_biology,hhh,hhh_mc"


def random_lora(folder: Path, seed: int = 0, scale: float = 0.05) -> Path:
    """Save a rank-4 q/v LoRA of the demo model whose B matrices are N(0, scale^2) (so it changes the model)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from instructeval.models.demo import demo_model_dir

    model = get_peft_model(
        AutoModelForCausalLM.from_pretrained(demo_model_dir()),
        LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"]),
    )
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "lora_B" in name:
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * scale)
    model.save_pretrained(folder)
    return folder


def screenshot(page: Path, target: Path) -> None:
    """A full-height PNG of a built page, from headless Chromium."""
    import shutil

    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1200,1400"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(shutil.which("chromedriver") or "chromedriver"))
    try:
        driver.get(page.as_uri())
        WebDriverWait(driver, 120).until(lambda d: d.execute_script("return document.body.dataset.ready === '1'"))
        driver.save_screenshot(str(target))
    finally:
        driver.quit()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="a new folder for the adapter, the runs and the site")
    parser.add_argument("--limit", type=int, default=3, help="examples per subject/category (default 3)")
    parser.add_argument("--tasks", default=TASKS, help=f"tasks both runs score (default {TASKS})")
    parser.add_argument("--screenshot", type=Path, help="where to save the diff page's screenshot")
    args = parser.parse_args()

    from instructeval.cli import main as cli
    from instructeval.compare import comparison_path
    from instructeval.evaluator import RunOptions, evaluate
    from instructeval.leaderboard import build_site
    from instructeval.paths import PACKAGE_DIR

    adapter = random_lora(args.out / "lora")
    options = RunOptions(
        model="demo",
        tasks=args.tasks,
        output=args.out / "runs",
        data_dir=PACKAGE_DIR / "demo_data",
        limit=args.limit,
        batch_size="4",
        run_name="base",
    )
    base = evaluate(options, progress=lambda _: None)
    tuned = evaluate(replace(options, run_name="lora", adapter=adapter), progress=lambda _: None)
    code = cli(["compare", str(base), str(tuned), "--format", "markdown"])
    if code != 0:
        return code
    print(f"comparison: {comparison_path(base, tuned)}")
    build_site([args.out / "runs"], args.out / "site")
    page = args.out / "site" / "diffs" / "comparison-0.html"
    print(f"diff page: {page}")
    if args.screenshot:
        screenshot(page, args.screenshot)
    return code


if __name__ == "__main__":
    sys.exit(main())
