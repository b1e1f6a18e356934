"""Outside cases run through notrain's parsers: third-party test suites and the specifications' examples.

The data files under tests/outside/ hold each case's input and the answer its source gives, with the
source named: google/robotstxt's robots_test.cc and Protego's test suite (robots.txt line syntax,
groups, user agents, paths), deployed robots.txt files where notrain and Protego differ, RFC 9309, AIPREF attach and TDMRep examples, and datadiligence's
X-Robots-Tag and TDMRep header tests.  Where notrain deliberately answers otherwise, the case says
what notrain answers and why; those differences are counted, so none can appear silently.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from notrain.core import TRAIN_AI, State, decide
from notrain.signals.headers import header_statements, tdmrep_header_values
from notrain.signals.robots import RobotsTxt
from notrain.signals.tdmrep import parse_tdmrep, tdmrep_statement

OUTSIDE = Path(__file__).parent / "outside"


def load(name: str) -> dict:
    return json.loads((OUTSIDE / name).read_text("utf-8"))


def robots(text: str) -> RobotsTxt:
    return RobotsTxt.parse(text.encode(), "http://foo.bar/robots.txt")


GOOGLE = load("robots/google_robots_test.json")
PROTEGO = load("robots/protego_tests.json")
DEPLOYED = load("robots/deployed.json")
SPECS = load("specs/examples.json")
DATADILIGENCE = load("noai/datadiligence.json")


def ids(cases: list[dict]) -> list[str]:
    return [f"{i}-{c.get('test', 'case')}-{c.get('agent')}" for i, c in enumerate(cases)]


SUITES = GOOGLE["cases"] + PROTEGO["cases"] + DEPLOYED["cases"]


@pytest.mark.parametrize("case", SUITES, ids=ids(SUITES))
def test_robots_suites(case):
    expected = case.get("notrain", {}).get("allowed", case["allowed"])
    assert robots(case["robots"]).can_fetch(case["url"], case["agent"]) is expected


def test_the_suites_are_many_and_the_differences_few_and_argued():
    assert len(GOOGLE["cases"]) >= 130 and len(PROTEGO["cases"]) >= 160
    differ = [c for c in SUITES if "notrain" in c]
    assert len(differ) == 17 and all(len(c["notrain"]["why"]) > 40 for c in differ)


@pytest.mark.parametrize("case", SPECS["crawl"], ids=ids(SPECS["crawl"]))
def test_specification_crawl_examples(case):
    assert robots(case["robots"]).can_fetch(case["url"], case["agent"]) is case["allowed"]


@pytest.mark.parametrize("case", SPECS["usage"], ids=ids(SPECS["usage"]))
def test_specification_content_usage_examples(case):
    file = robots(case["robots"])
    assert file.can_fetch(case["url"], case["agent"]) is case["crawl"]
    state = decide(file.statements(case["url"], case["agent"])).state(TRAIN_AI)
    assert state is (State.UNKNOWN if case["train-ai"] == "n/a" else State(case["train-ai"]))


@pytest.mark.parametrize("case", SPECS["tdmrep"], ids=ids(SPECS["tdmrep"]))
def test_specification_tdmrep_examples(case):
    rules = parse_tdmrep(json.dumps(case["file"]).encode(), "https://provider.example/.well-known/tdmrep.json")
    found = rules.match(case["url"])
    assert (found.reservation if found else None) == case["reservation"]
    assert (found.policy if found else None) == case["policy"]


@pytest.mark.parametrize("case", DATADILIGENCE["cases"], ids=ids(DATADILIGENCE["cases"]))
def test_datadiligence_header_cases(case):
    url = "https://art.example/a"
    if case["header"] == "tdm-reservation":
        statement = tdmrep_statement(None, tdmrep_header_values([("tdm-reservation", case["value"])], url), None, url)
        statements = [statement] if statement else []
    else:  # no Content-Type, as datadiligence evaluates the value alone: noimageai counts
        statements = header_statements([("X-Robots-Tag", case["value"])], url, agents=case["agent"] or ())
    assert (decide(statements).state(TRAIN_AI) is not State.DISALLOWED) is case["allowed"]
