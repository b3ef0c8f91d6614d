import pytest

from tests.reliability import catalogue

pytestmark = pytest.mark.reliability


def test_the_catalogue_has_all_its_cases() -> None:
    scenarios = catalogue.cases()
    assert sorted(scenarios) == list(range(1, catalogue.CASES + 1))
    assert all(scenarios.values())


def test_every_reliability_test_names_a_catalogue_case() -> None:
    assert set(catalogue.proofs()) <= set(range(1, catalogue.CASES + 1))


def test_docs_reliability_page_matches_the_tests() -> None:
    expected = catalogue.render()
    actual = catalogue.PAGE.read_text(encoding="utf-8")
    stale = "docs/reliability.md is stale: run python -m tests.reliability.catalogue"
    assert actual == expected, stale


def test_every_case_has_a_test() -> None:
    proven = catalogue.proofs()
    missing = [n for n in range(1, catalogue.CASES + 1) if not proven.get(n)]
    assert missing == [], f"cases without a test: {missing}"
