"""`python -m proofs` and `boundkit prove`: reports, documents and exit codes."""

import re
import subprocess
import sys

import sympy as sp

import proofs
from boundkit.cli import main as boundkit_main
from proofs._core import Proof, Step
from proofs.checks_symbolic import Identity
from proofs.cli import main


def test_python_m_proofs_runs_and_exits_zero():
    done = subprocess.run([sys.executable, "-m", "proofs", "R3", "R5"], capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "R3" in done.stdout and "R5" in done.stdout and "rejected" in done.stdout
    assert "all verified" in done.stdout


def test_markdown_document(tmp_path, capsys):
    out = tmp_path / "appendix.md"
    assert boundkit_main(["prove", "R4", "--format", "markdown", "-o", str(out)]) == 0
    text = out.read_text()
    assert text.startswith("# Machine-checked derivations")
    assert "## R4: Balanced schedule: harmonic drift" in text
    assert "$$e_{i+1} \\le \\delta H_{i+1}" in text
    assert "**Wrong variants, which the checkers must reject.**" in text
    assert "sampling can refute, never prove" in text
    assert "all verified" in capsys.readouterr().out


def test_latex_document_is_ascii_and_balanced(capsys):
    assert main(["R1", "R6", "--format", "latex"]) == 0
    tex = capsys.readouterr().out
    assert tex.isascii()
    assert tex.count(r"\begin{enumerate}") == tex.count(r"\end{enumerate}") == 2
    assert tex.count(r"\begin{itemize}") == tex.count(r"\end{itemize}") == 2
    unescaped = re.sub(r"\\[{}]", "", tex)
    assert unescaped.count("{") == unescaped.count("}")
    assert tex.count(r"\(") == tex.count(r"\)")
    assert r"\subsection*{R6: Phase transition in the synthetic-to-real ratio}" in tex


def test_failing_step_exits_one(monkeypatch, capsys):
    wrong = Proof("R3", "a wrong proof", ("x > 0",),
                  (Step("one is two", "1 = 2", Identity(sp.Integer(1), 2)),))
    monkeypatch.setitem(proofs.PROOFS, "R3", wrong)
    assert main(["R3"]) == 1
    assert "FAILED" in capsys.readouterr().out


def test_bad_arguments_exit_two_with_one_line(capsys):
    assert boundkit_main(["prove", "R8"]) == 2  # R8 is a predictor, not a proof
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown result 'R8'" in err and "R1, R2" in err
    assert main(["R1", "--output", "x.txt"]) == 2
    assert "--output needs --format markdown or latex" in capsys.readouterr().err
    assert main(["--format", "pdf"]) == 2


def test_list(capsys):
    assert boundkit_main(["prove", "--list"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [ln.split("\t")[0] for ln in lines] == list(proofs.PROOFS)


def test_boundkit_import_does_not_import_proofs_or_torch():
    code = ("import sys, boundkit, boundkit.cli; "
            "assert 'proofs' not in sys.modules and 'torch' not in sys.modules")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr
