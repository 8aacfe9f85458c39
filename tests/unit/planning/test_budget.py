import pytest

from ganbench.planning.budget import Budget, parse_seeds
from ganbench.api.errors import UsageError


@pytest.mark.parametrize("text,kind,amount", [
    ("20000img", "images", 20000), ("20kimg", "images", 20000), ("500steps", "steps", 500),
    ("1step", "steps", 1), ("30s", "seconds", 30.0), ("2min", "seconds", 120.0),
    ("1.5s", "seconds", 1.5), (" 64 kimg ", "images", 64000),
])
def test_parse_budget(text, kind, amount):
    b = Budget.parse(text)
    assert (b.kind, b.amount) == (kind, amount)
    assert Budget.parse(str(b)) == b


@pytest.mark.parametrize("text", ["", "abc", "10", "-5s", "0steps", "1.5steps", "10 parsecs",
                                  "1e9999s", "nan s", "5img5"])
def test_bad_budgets(text):
    with pytest.raises(UsageError, match="invalid budget"):
        Budget.parse(text)


def test_fraction():
    b = Budget.parse("1000img")
    assert b.fraction(images=250, steps=7, seconds=99.0) == 0.25
    assert Budget.parse("10s").fraction(images=10**9, steps=10**9, seconds=5.0) == 0.5


def test_seeds():
    assert parse_seeds("0,1,2") == (0, 1, 2)
    assert parse_seeds("0-4") == (0, 1, 2, 3, 4)
    assert parse_seeds("7, 1-2") == (7, 1, 2)


@pytest.mark.parametrize("text", ["", "a", "-1", "1,1", "3-1", "1.5", "0-5000", "1,,2"])
def test_bad_seeds(text):
    with pytest.raises(UsageError, match="invalid seeds"):
        parse_seeds(text)
