"""The AI crawler table (package data) and the script that refreshes it from ai.robots.txt's robots.json.

Fixture: tests/outside/ai_robots/robots.json, 15 entries of the community list (see SOURCE.txt there).
"""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.resources import files
from pathlib import Path

import pytest

from notrain.signals.crawlers import AI_CRAWLERS, TRAINING, crawler_token, load_table, product_token
from notrain.signals.refresh_crawlers import LIST, is_training

FIXTURE = Path(__file__).parent / "outside" / "ai_robots" / "robots.json"
SHIPPED = files("notrain.signals").joinpath("data", "ai_crawlers.json")


def refresh(tmp_path: Path) -> dict:
    table = tmp_path / "ai_crawlers.json"
    table.write_text(SHIPPED.read_text("utf-8"), "utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "notrain.signals.refresh_crawlers", str(FIXTURE), "--table", str(table), "--commit", "abc123"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "crawlers" in done.stdout
    return json.loads(table.read_text("utf-8"))


def test_refresh_keeps_curated_entries_and_replaces_the_lists(tmp_path):
    shipped = json.loads(SHIPPED.read_text("utf-8"))["crawlers"]
    new = refresh(tmp_path)["crawlers"]
    curated = [e for e in shipped if not e["source"].startswith(LIST)]
    assert new[: len(curated)] == curated  # hand-curated entries stay, first and unchanged
    listed = {e["token"]: e for e in new[len(curated) :]}
    # Training crawlers of the fixture not curated by hand, one per product token; ai.robots.txt's
    # 'Brightbot 1.0' and 'webzio-extended' are the same tokens as 'Brightbot' and 'Webzio-Extended'.
    assert sorted(listed) == ["AI2Bot", "Brightbot", "Kangaroo Bot", "PanguBot", "Sidetrade indexer bot", "Webzio-Extended"]
    assert all(e["purpose"] == TRAINING and e["source"] == f"{LIST} (abc123)" for e in listed.values())
    assert listed["AI2Bot"]["operator"] == "Ai2" and listed["AI2Bot"]["note"] == "Content is used to train open language models."
    assert listed["Kangaroo Bot"]["note"].startswith("Kangaroo Bot is used by")  # a category name gives way to the description
    # Gone: list entries absent from this robots.json (the shipped table has dozens).
    assert not {"CCBot", "Bytespider", "TikTokSpider"} & set(listed)
    load_table(json.dumps({"crawlers": new}))


def test_refresh_leaves_out_search_assistants_and_generic_tools(tmp_path):
    tokens = {product_token(e["token"]) for e in refresh(tmp_path)["crawlers"] if e["purpose"] == TRAINING}
    assert not {"applebot", "chatgpt-user", "youbot", "scrapy"} & tokens
    assert {"gptbot", "amazonbot", "meta-externalagent"} <= tokens  # curated: Amazonbot from Amazon's own page


def test_refresh_refuses_a_table_it_could_not_load(tmp_path):
    table = tmp_path / "t.json"
    table.write_text(json.dumps({"crawlers": [{"token": "X", "operator": "", "purpose": "flying", "source": "me"}]}), "utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "notrain.signals.refresh_crawlers", str(FIXTURE), "--table", str(table)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0 and "flying" in table.read_text("utf-8")


@pytest.mark.parametrize(
    "entry, training",
    [
        ({"function": "AI Data Scrapers", "description": "Description unavailable"}, True),
        ({"function": "LLM training.", "description": ""}, True),
        ({"function": "Data Scraper", "description": "builds datasets for machine learning"}, True),
        ({"function": "AI Search Crawlers", "description": "indexes content for AI search"}, False),
        ({"function": "AI Assistants", "description": "fetches pages when users ask"}, False),
    ],
)
def test_what_counts_as_a_training_crawler(entry, training):
    assert is_training(entry) is training


def test_the_shipped_table():
    tokens = [product_token(c.token) for c in AI_CRAWLERS]
    assert len(tokens) == len(set(tokens)) and all(tokens)
    assert sum(c.purpose == TRAINING for c in AI_CRAWLERS) >= 40
    assert all(c.source for c in AI_CRAWLERS)


@pytest.mark.parametrize(
    "name, token",
    [("GPTBot", "gptbot"), ("MyBot/2.1", "mybot"), ("Kangaroo Bot", "kangaroo"), ("jävla-fanbot", "jävla-fanbot"), ("Foo (x)", "foo"), ("  x  ", "x")],
)
def test_crawler_token(name, token):
    assert crawler_token(name) == token


@pytest.mark.parametrize(
    "value, token",
    [("Jävla-Foobot", "j"), ("Kangaroo Bot", "kangaroo"), ("* # all", "*"), ("* all", "*"), ("*bot", ""), ("AI2Bot", "ai2bot")],
)
def test_product_token_of_a_user_agent_line(value, token):
    assert product_token(value) == token
