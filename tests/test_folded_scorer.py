"""The compiled scorer of folded models (``megamath.classify._folded``) against fastText's own ``predict`` on
the same model: the same probabilities bit for bit, on the shipped models over real text and on small
models trained here with each loss it reads, including the lines fastText splits oddly."""

from __future__ import annotations

import random
import subprocess
import sys
import sysconfig
from pathlib import Path

import numpy as np
import pytest

from megamath.classify.fasttext_model import load_fasttext_model
from megamath.classify.model import compiled_scorer, fold
from megamath.classify.preprocess import preprocess
from megamath.classify.shipped import SHIPPED_MODEL as SHIPPED_MATH
from megamath.code.normalize import classifier_text
from megamath.code.shipped import SHIPPED_MODEL as SHIPPED_CODE

ODD_LINES = ["", " ", "\t\r\v\f", "a\0b", "__label__math x", "x __label__other", "__label__", "</s>", "0 0 0",
             "ünïcode ＡＢ ∑ 𝑥", "a lone \ud800 surrogate", "word " * 20000, "lang_python mathimport 0 ** 0"]


def fasttext_predict(model, lines: list[str]) -> np.ndarray:
    """fastText's predict(lines, k=-1) as a (lines × labels) array in label order."""
    column = {label: j for j, label in enumerate(model.get_labels())}
    labels, probabilities = model.predict([line.encode("utf-8", "replace").decode() for line in lines], k=-1)
    out = np.zeros((len(lines), len(column)))
    for i, (names, values) in enumerate(zip(labels, probabilities)):
        for label, probability in zip(names, values):
            out[i, column[label]] = probability
    return out


def compiled(model, lines: list[str]) -> np.ndarray:
    scorer = compiled_scorer(model)
    assert scorer is not None
    return np.frombuffer(scorer.probabilities(lines), dtype=np.float64).reshape(len(lines), len(model.get_labels()))


def test_shipped_code_model_on_real_source_files():
    roots = [Path(sysconfig.get_paths()["stdlib"]), Path(sysconfig.get_paths()["include"])]
    files = sorted(path for root in roots for pattern in ("*.py", "*.h") for path in root.glob(pattern))
    lines = [classifier_text(path.read_text(encoding="utf-8", errors="replace"), "python" if path.suffix == ".py" else "c")
             for path in files] + ODD_LINES
    model = load_fasttext_model(SHIPPED_CODE)
    assert np.array_equal(compiled(model, lines), fasttext_predict(model, lines))


def test_shipped_math_model_on_real_prose():
    """The stdlib's module docstrings and this repository's docs, preprocessed as pages are."""
    import ast

    texts = [ast.get_docstring(ast.parse(path.read_text(encoding="utf-8", errors="replace"))) or ""
             for path in sorted(Path(sysconfig.get_paths()["stdlib"]).glob("*.py"))]
    texts += [path.read_text(encoding="utf-8") for path in sorted(Path(__file__).parents[1].glob("docs/*.md"))]
    lines = [preprocess(text) for text in texts] + ODD_LINES
    model = load_fasttext_model(SHIPPED_MATH)
    assert np.array_equal(compiled(model, lines), fasttext_predict(model, lines))


@pytest.mark.parametrize("loss,labels,bucket,word_ngrams", [("softmax", 3, 3_000, 3), ("ova", 2, 50_000, 2)])
def test_small_models_of_each_loss(tmp_path, loss, labels, bucket, word_ngrams):
    """A softmax over three labels with a bucket small enough to take the remainder's plain path, and a
    one-vs-all model: trained here, folded, scored both ways."""
    rng = random.Random(labels)
    vocabulary = [f"w{i}" for i in range(300)] + ["é", "∑", "x^0", "\\frac"]
    lines = [[rng.choice(vocabulary) for _ in range(rng.randrange(1, 40))] for _ in range(600)]
    train = tmp_path / "train.txt"
    train.write_text("".join(f"__label__{int(line[0][1:]) % labels if line[0][1:].isdigit() else 0} {' '.join(line)}\n"
                             for line in lines), encoding="utf-8")
    model_path = tmp_path / "model.bin"
    train_command = (f"import fasttext; fasttext.train_supervised({str(train)!r}, dim=32, epoch=3, loss={loss!r}, "
                     f"bucket={bucket}, wordNgrams={word_ngrams}, minCount=2, thread=1, seed=1, verbose=0)"
                     f".save_model({str(model_path)!r})")
    for _ in range(5):  # fasttext-numpy2 now and then ends a tiny training with "Encountered NaN", more often
        # after other trainings in the same process: each try in a fresh one
        if subprocess.run([sys.executable, "-c", train_command], capture_output=True).returncode == 0:
            break
    model = load_fasttext_model(model_path, cache=False)
    fold(model)
    test_lines = [" ".join(rng.choice(vocabulary + ["unseen"]) for _ in range(rng.randrange(0, 60)))
                  for _ in range(300)] + ODD_LINES
    assert np.array_equal(compiled(model, test_lines), fasttext_predict(model, test_lines))


def test_a_line_with_a_newline_is_refused():
    scorer = compiled_scorer(load_fasttext_model(SHIPPED_CODE))
    with pytest.raises(ValueError, match="newline"):
        scorer.probabilities(["two\nlines"])
