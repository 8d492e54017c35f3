"""MkDocs hook: serve MathJax from the built site, so formulas render with no network.

MathJax 3 comes from the ``django-static-mathjax`` wheel (a plain copy of MathJax's
files, no Django needed), installed by the project's ``dev`` extra. After each build
its ``es5`` folder (the ``tex-chtml`` component and the CHTML fonts it loads from
beside itself) is copied into ``site/javascripts/mathjax/``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

#: What the site needs from MathJax's es5 folder.
NEEDED = ("tex-chtml.js", "output/chtml/fonts/woff-v2")


def mathjax_es5() -> Path:
    import mathjax  # the django-static-mathjax wheel's package

    return Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"


def on_post_build(config, **kwargs) -> None:
    source = mathjax_es5()
    target = Path(config["site_dir"]) / "javascripts" / "mathjax"
    for part in NEEDED:
        src, dst = source / part, target / part
        if src.is_dir():
            shutil.copytree(src, dst, dirs_exist_ok=True)
        else:
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)
