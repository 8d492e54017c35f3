"""A Griffe extension for the docs: numpydoc's reStructuredText bits as Markdown.

mkdocstrings renders docstrings as Markdown, so a ``.. math::`` block or a Sphinx role
(``:mod:`x```, ``:func:`~a.b```) would show raw on the site. This extension rewrites
them when Griffe loads each object: ``.. math::`` blocks become ``$$ ... $$`` display
math (rendered by arithmatex and the bundled MathJax), ``:math:`x``` becomes ``$x$``,
and every other role becomes inline code naming the object. The docstrings in the
source stay plain numpydoc.
"""

from __future__ import annotations

import re
import textwrap

import griffe

ROLE = re.compile(r":(?:py:)?(mod|func|class|meth|attr|data|obj|exc|const|ref):`~?([^`]+)`")
MATH_ROLE = re.compile(r":math:`([^`]+)`")


def to_markdown(text: str) -> str:
    """Rewrite ``.. math::`` blocks and Sphinx roles of one docstring as Markdown."""
    lines = text.splitlines()
    out: list[str] = []
    k = 0
    while k < len(lines):
        line = lines[k]
        stripped = line.strip()
        if stripped.startswith(".. math::"):
            indent = line[: len(line) - len(line.lstrip())]
            body = [stripped[len(".. math::"):].strip()] if stripped != ".. math::" else []
            k += 1
            while k < len(lines) and (not lines[k].strip() or
                                      len(lines[k]) - len(lines[k].lstrip()) > len(indent)):
                body.append(lines[k])
                k += 1
            math = textwrap.dedent("\n".join(body)).strip("\n")
            out += [f"{indent}$$", *[indent + m for m in math.splitlines()], f"{indent}$$", ""]
            continue
        out.append(line)
        k += 1
    text = "\n".join(out)
    text = MATH_ROLE.sub(lambda m: f"${m.group(1)}$", text)
    def code(m: re.Match) -> str:
        name = m.group(2)
        return f"`{name.split('.')[-1] if '~' in m.group(0) else name}`"

    return ROLE.sub(code, text)


class MarkdownDocstrings(griffe.Extension):
    """Rewrite every loaded docstring with :func:`to_markdown`."""

    def on_instance(self, *, node, obj, agent, **kwargs) -> None:
        if obj.docstring is not None:
            obj.docstring.value = to_markdown(obj.docstring.value)
