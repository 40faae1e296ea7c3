"""Code-aware normalization and the math-import rule, on real code this interpreter ships."""

import fractions
import json.decoder
import statistics
from pathlib import Path

from megamath.code.normalize import as_classifier_line, classifier_text, math_imports, normalize_code


def test_identifiers_split_numbers_fold_operators_stay():
    assert normalize_code("getHTTPResponse2 MAX_ITER log10 x_1 __init__ _") == \
        "get http response2 max iter log10 x 0 init"
    assert normalize_code("x **= 2  # Newton's step\nif a->b != 0.5e-3: getValue(max_iter)") == \
        "x **= 0 # newton ' s step if a -> b != 0 : get value ( max iter )"
    assert normalize_code("") == "" and normalize_code("1_000 + 3.14") == "0 + 0"


def test_math_imports_by_language():
    assert {"math", "fractions", "decimal"} <= set(math_imports(Path(statistics.__file__).read_text(), "python"))
    assert math_imports(Path(json.decoder.__file__).read_text(), "python") == []
    assert math_imports("#include <stdio.h>\n#include <cmath>\n#include <Eigen/Dense>\n", "c++") == ["cmath", "Eigen/Dense"]
    assert math_imports('import (\n\t"fmt"\n\t"math/big"\n)\n', "go") == ["math/big"]
    assert math_imports("use num_traits::Float;\nuse std::io;\n", "rust") == ["num_traits::Float"]
    assert math_imports("const math = require('mathjs');\n", "javascript") == ["mathjs"]
    assert math_imports("library(pracma)\n", "r") == ["pracma"]
    assert math_imports("import org.apache.commons.math3.linear.RealMatrix;\n", "java") == \
        ["org.apache.commons.math3.linear.RealMatrix"]
    assert math_imports("SELECT SQRT(x) FROM t;", "sql") == ["SQRT"]
    assert math_imports("echo 'scale=4; 4*a(1)' | bc -l", "shell") == ["bc -l"]


def test_the_rule_feature_can_be_switched_off():
    source = Path(fractions.__file__).read_text()
    assert classifier_text(source, "python").startswith("lang_python mathimport")
    assert not classifier_text(source, "python", rule_feature=False).startswith("lang_python mathimport")


def test_a_classifier_line_is_what_the_model_preprocessing_reads():
    """The scorer hands classifier_text's lines to the model as they are: they must be one line of
    the tokens that ``as_classifier_line`` (the model's recorded preprocessing) reads."""
    for text in (Path(fractions.__file__).read_text(), "", " \n\t", "a\r\nb\u2028c\x0bd"):
        line = classifier_text(text, "python")
        assert "\n" not in line and as_classifier_line(line).split() == line.split()
