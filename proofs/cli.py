"""``python -m proofs`` and ``boundkit prove``: check the derivations and report.

Exit codes: 0 when every step passed and every wrong variant was rejected, 1
when any step failed (or a wrong variant was accepted), 2 with one line on bad
arguments.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import click
from hypothesis.configuration import set_hypothesis_home_dir

from boundkit._cli_common import run_command
from boundkit._paths import check_output_file


@click.command(
    "prove",
    context_settings={"help_option_names": ["-h", "--help"]},
    help="Check the machine-checked derivations of docs/theory.md (R1-R7, R9, E3, E4). "
    "NAMES selects results (default: all).",
)
@click.argument("names", nargs=-1)
@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "latex"]),
              default="text", show_default=True,
              help="text (rich table), or an appendix-ready markdown / latex document.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the markdown / latex document here (default: standard output).")
@click.option("--no-mutants", is_flag=True, help="Skip the wrong variants.")
@click.option("--list", "list_only", is_flag=True, help="List the results and exit.")
def prove(names, fmt, output, no_mutants, list_only) -> int:
    """Run the selected proofs and print or write the report; return the exit code."""
    import proofs
    from proofs import report as rep

    chosen = proofs.select(names)
    if output is not None and fmt == "text":
        raise click.UsageError("--output needs --format markdown or latex.")
    if output is not None:
        check_output_file(output, create_parent=False)
    if list_only:
        for p in chosen:
            click.echo(f"{p.name}\t{len(p.steps)} steps, {len(p.mutants)} wrong variants\t"
                       f"{p.title}")
        return 0
    report = _run_without_traces(chosen, not no_mutants)
    if fmt == "text":
        rep.render_text(report)
    else:
        document = rep.RENDERERS[fmt](report)
        if output is None:
            click.echo(document)
        else:
            output.write_text(document, encoding="utf-8")
            click.echo(f"{fmt} document: {output}")
            click.echo(rep.summary(report))
    return 0 if report.ok else 1


def _run_without_traces(chosen, mutants: bool):
    """Run the proofs with hypothesis's storage in a temporary folder, so that ``prove``
    writes no ``.hypothesis`` directory into the user's working directory."""
    import proofs

    with tempfile.TemporaryDirectory(prefix="boundkit-hypothesis-") as home:
        set_hypothesis_home_dir(home)
        try:
            return proofs.run_proofs(chosen, mutants=mutants)
        finally:
            set_hypothesis_home_dir(None)


def main(argv: list[str] | None = None, prog: str = "python -m proofs") -> int:
    """Run the command under boundkit's error contract: 0 verified, 1 a failed step, 2 a
    refused argument (one line, never a traceback)."""
    return run_command(prove, argv, prog)
