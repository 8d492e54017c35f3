"""`boundkit simulate`: writes the frame and the figure; bad input exits 2 with one line."""

import pandas as pd
import pytest

from boundkit.cli import main


def test_simulate_writes_frame_and_figure(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["simulate", "gaussian-mle", "--data", "gaussian", "--schedule", "replace",
                 "--rounds", "3", "--n", "50", "--replicates", "2", "--seed", "4",
                 "--out", str(out)])
    assert code == 0
    frame = pd.read_csv(out / "frame.csv")
    assert set(frame["replicate"]) == {0, 1} and set(frame["round"]) == {0, 1, 2}
    assert (out / "errors.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    shown = capsys.readouterr().out
    assert "r1_bound" in shown and "errors.png" in shown
    margins = frame[frame.metric == "v1_margin"]["value"]
    assert (margins >= 0).all()


def test_simulate_diffusion_model(tmp_path):
    out = tmp_path / "rf"
    assert main(["simulate", "diffusion-rf", "--data", "unequal", "--rounds", "2", "--n",
                 "300", "--out", str(out)]) == 0
    frame = pd.read_csv(out / "frame.csv")
    e = frame[frame.metric == "e"]["value"]
    assert ((e > 0) & (e < 0.6)).all()
    assert (frame[frame.metric == "v1_margin"]["value"] >= 0).all()


def test_simulate_growth_and_same_seed(tmp_path):
    args = ["simulate", "kde", "--data", "unequal", "--schedule", "accumulate", "--rounds",
            "2", "--n", "30", "--growth", "1", "--seed", "9"]
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    assert main([*args, "--out", str(tmp_path / "b")]) == 0
    a = pd.read_csv(tmp_path / "a" / "frame.csv")
    b = pd.read_csv(tmp_path / "b" / "frame.csv")
    assert a.equals(b)
    # accumulate keeps every data set: n_i = n (i+1) on top of the growth (i+1)^P
    assert sorted(set(a["n"])) == [30, 120]
    sub = [*args[:5], "accumulate-subsample", *args[6:], "--out", str(tmp_path / "c")]
    assert main(sub) == 0
    assert sorted(set(pd.read_csv(tmp_path / "c" / "frame.csv")["n"])) == [30, 60]


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["simulate", "gpt"], "MODEL='gpt' is not a known model"),
        (["simulate", "kde", "--data", "nope"], "--data='nope' is not a known data set"),
        (["simulate", "kde", "--schedule", "foo"], "Invalid value for '--schedule'"),
        (["simulate", "kde", "--rounds", "0"], "--rounds must be an integer in [1, 100,000]"),
        (["simulate", "kde", "--n", "x"], "--n='x' is not an integer"),
        (["simulate", "kde", "--device", "tpu"], "Invalid value for '--device'"),
        (["simulate", "kde", "--growth", "-2"], "--growth must be >= 0"),
        (["simulate", "kde", "--real-data", "reuse"], "Invalid value for '--real-data'"),
        (["simulate", "kde", "--temperature", "0"], "--temperature must be > 0"),
        (["simulate", "kde", "--self-correct", "2"], "--self-correct must lie in"),
    ],
)
def test_simulate_bad_input(capsys, argv, fragment):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and fragment in err
