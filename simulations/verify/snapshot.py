"""Refresh the docs page's snapshot of a verification run (docs/verify.md).

``python -m simulations.verify.snapshot OUT --page docs/verify.md`` keeps the page's
hand-written head (everything before "## Verdict rule"), then writes the rule text, the
run's summary table, verdict table, failures, metric checks and figures (copied into a
folder named like the page: ``docs/verify/``) from the report in ``OUT``
(``boundkit verify ... --out OUT``). ``make docs`` runs a fresh quick verification and
refreshes docs/verify.md with it before building the site.
"""

from __future__ import annotations

import argparse
import re
import shutil
from pathlib import Path

from simulations.verify.rules import RULE_TEXT

MARK = "## Verdict rule"


def _section(md: str, title: str) -> str:
    """The body of the report's section ``## title`` (up to the next ``## ``)."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", md, re.M | re.S)
    return match.group(1).strip() if match else ""


def refresh(out: Path, page: Path, label: str) -> None:
    """Rewrite ``page`` from its head and the report in ``out``."""
    text = page.read_text(encoding="utf-8")
    head = text.split(MARK, 1)[0].rstrip()
    md = (out / "report.md").read_text(encoding="utf-8")
    figures = page.parent / page.stem
    figures.mkdir(exist_ok=True)
    pictures = sorted(out.glob("fig_*.png"))
    for png in pictures:
        shutil.copyfile(png, figures / png.name)
    first = md.splitlines()[2] if len(md.splitlines()) > 2 else ""
    lines = [head, "", MARK, "", RULE_TEXT, "", f"## {label}", "", first, "",
             "### Summary", "", _section(md, "Summary"), "", "### Verdicts", "",
             _section(md, "Verdicts"), ""]
    failed = _section(md, "Failed loops")
    if failed:
        lines += ["### Failed loops", "", failed, ""]
    lines += ["### Metric checks (C1)", "", _section(md, "Metric checks (C1)"), "",
              "## Figures", ""]
    for png in pictures:
        name = png.stem.removeprefix("fig_")
        lines += [f"### {name}", "", f"![{name}]({page.stem}/{png.name})", ""]
    page.write_text("\n".join(lines), encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="the report folder of a verify run")
    parser.add_argument("--page", type=Path, default=Path("docs/verify.md"))
    parser.add_argument("--label", default="Latest quick run (seed 0)")
    args = parser.parse_args(argv)
    refresh(args.out, args.page, args.label)


if __name__ == "__main__":
    main()
