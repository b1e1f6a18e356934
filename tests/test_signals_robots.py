"""robots.txt: crawl permission, Content-Usage, Content-Signal and AI crawler groups.

Fixtures: refs/signals.md §1.6 (attach-05 example and extra fixtures), §6.1 (Cloudflare), §7 (RFC 9309,
AI tokens), plus real-world-style files and fuzzing.
"""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from protego import Protego

from notrain.core import decide
from notrain.core.decision import FAIL_CLOSED, Statement
from notrain.core.vocab import State
from notrain.signals.base import ROBOTS_AI_TOKEN, ROBOTS_CONTENT_SIGNAL, ROBOTS_CONTENT_USAGE, SignalError
from notrain.signals.robots import AI_CRAWLERS, MAX_OCTETS, TRAINING, RobotsTxt, product_token

Y, N, U = State.ALLOWED, State.DISALLOWED, State.UNKNOWN
ORIGIN = "https://news.example"
ROBOTS_URL = ORIGIN + "/robots.txt"


def robots(text: str | bytes) -> RobotsTxt:
    return RobotsTxt.parse(text.encode() if isinstance(text, str) else text, ROBOTS_URL)


def state(file: RobotsTxt, path: str, token: str, category: str = "train-ai", mechanism: str | None = None) -> State:
    found = file.statements(ORIGIN + path, token)
    if mechanism is not None:
        found = [s for s in found if s.evidence.mechanism == mechanism]
    return decide(found).state(category)


def mechanisms(file: RobotsTxt, path: str, token: str) -> list[str]:
    return [s.evidence.mechanism for s in file.statements(ORIGIN + path, token)]


# --- signals.md §1.6: the attach-05 example ------------------------------------------------------

ATTACH_EXAMPLE = """\
User-Agent: *
Allow: /
Disallow: /never/
Content-Usage: train-ai=n
Content-Usage: /ai-ok/ train-ai=y

User-Agent: ExampleBot
Allow: /
Content-Usage: train-ai=y
"""

# The same file in the mandatory-path form of one indexed attach branch.
ATTACH_EXAMPLE_WITH_PATHS = ATTACH_EXAMPLE.replace("Content-Usage: train-ai", "Content-Usage: / train-ai")


@pytest.mark.parametrize("text", [ATTACH_EXAMPLE, ATTACH_EXAMPLE_WITH_PATHS], ids=["path-optional", "path-mandatory"])
@pytest.mark.parametrize(
    "token, path, crawl, train",
    [
        ("OtherBot", "/test", True, N),
        ("OtherBot", "/never/test", False, None),  # N/A: preferences apply only to crawlable paths
        ("OtherBot", "/ai-ok/test", True, Y),
        ("ExampleBot", "/anything", True, Y),  # groups do not inherit from '*'
        ("ExampleBot", "/never/test", True, Y),
        ("examplebot", "/ai-ok/x", True, Y),  # product tokens match case-insensitively
    ],
)
def test_attach_example(text, token, path, crawl, train):
    file = robots(text)
    assert file.warnings == ()
    assert file.can_fetch(ORIGIN + path, token) is crawl
    found = file.statements(ORIGIN + path, token)
    if train is None:
        assert found == []
    else:
        assert decide(found).state("train-ai") is train
        assert all(s.evidence.mechanism == ROBOTS_CONTENT_USAGE for s in found)


def test_content_usage_evidence_cites_the_line_group_and_path():
    [statement] = robots(ATTACH_EXAMPLE).statements(ORIGIN + "/ai-ok/test", "OtherBot")
    evidence = statement.evidence
    assert evidence.source == ROBOTS_URL
    assert evidence.raw == "Content-Usage: /ai-ok/ train-ai=y"
    assert evidence.rule == "User-agent: * | /ai-ok/"
    assert evidence.detail == "line 5"
    [statement] = robots(ATTACH_EXAMPLE).statements(ORIGIN + "/test", "OtherBot")
    assert statement.evidence.rule == "User-agent: * | every path"


# --- signals.md §1.6: extra fixtures ---------------------------------------------------------------


def test_identical_paths_with_conflicting_preferences_combine_most_restrictively():
    file = robots("User-agent: *\nContent-Usage: /a/ train-ai=y\nContent-Usage: /a/ train-ai=n\n")
    found = file.statements(ORIGIN + "/a/x", "mybot")
    assert len(found) == 2  # separate statements, combined by decide()
    assert decide(found).state("train-ai") is N


def test_a_comment_ends_the_value():
    assert state(robots("User-agent: *\nContent-Usage: train-ai=n # no training\n"), "/x", "mybot") is N


def test_lowercase_label_without_spaces():
    file = robots("user-agent: *\ncontent-usage:/img/ train-ai=n\n")
    assert state(file, "/img/cat.png", "mybot") is N
    assert file.statements(ORIGIN + "/about", "mybot") == []


@pytest.mark.parametrize(
    "line",
    [
        "Content-Usage: train-ai=n",
        "CONTENT-USAGE : train-ai=n",
        "\tContent-Usage\t:\ttrain-ai=n",
        "Content-Usage:train-ai=n",
        "Content-Usage: / train-ai=n",
        "Content-Usage: /\ttrain-ai=n",
        "Content-Usage: /   train-ai=n   # x",
    ],
)
def test_label_and_separator_whitespace(line):
    assert state(robots(f"User-agent: *\n{line}\n"), "/x", "mybot") is N


def test_a_longer_rule_replaces_a_shorter_one_for_every_category():
    # attach-05: the rule with the longest matching path applies; it states only what its own value says.
    file = robots("User-agent: *\nContent-Usage: train-ai=n, search=y\nContent-Usage: /blog/ search=n\n")
    assert state(file, "/blog/post", "mybot", "search") is N
    assert state(file, "/blog/post", "mybot", "train-ai") is U
    assert state(file, "/about", "mybot", "train-ai") is N


def test_a_malformed_specific_rule_leaves_that_path_unknown():
    file = robots("User-agent: *\nContent-Usage: train-ai=n\nContent-Usage: /open/ Train-AI=y\n")
    [statement] = file.statements(ORIGIN + "/open/x", "mybot")
    assert statement.prefs == {}
    assert any("lowercase" in w for w in statement.evidence.warnings)
    assert state(file, "/closed", "mybot") is N


def test_equal_length_different_patterns_combine_most_restrictively():
    file = robots("User-agent: *\nContent-Usage: /a* train-ai=y\nContent-Usage: /ab train-ai=n\n")
    assert state(file, "/abc", "mybot") is N
    assert state(file, "/axe", "mybot") is Y


def test_wildcards_anchors_and_percent_encoding_in_content_usage_paths():
    file = robots(
        "User-agent: *\n"
        "Content-Usage: /*.jpg$ train-ai=n\n"
        "Content-Usage: /caf%C3%A9/ search=n\n"
        "Content-Usage: /%7Euser/ ai-use=n\n"
    )
    assert state(file, "/gallery/cat.jpg", "mybot") is N
    assert state(file, "/gallery/cat.jpg?size=2", "mybot") is U
    assert state(file, "/café/menu", "mybot", "search") is N
    assert state(file, "/caf%c3%a9/menu", "mybot", "search") is N
    assert state(file, "/~user/x", "mybot", "ai-use") is N


def test_a_path_with_no_preference_warns_and_states_nothing():
    [statement] = robots("User-agent: *\nContent-Usage: /img/\n").statements(ORIGIN + "/img/a", "mybot")
    assert statement.prefs == {}
    assert any("no preference" in w for w in statement.evidence.warnings)


def test_an_invalid_content_usage_path_is_ignored_with_a_warning():
    file = robots("User-agent: *\nContent-Usage: /a$b train-ai=n\nContent-Usage: /ok/ train-ai=n\n")
    assert any("'/a$b' is ignored" in w for w in file.warnings)
    assert state(file, "/a$b", "mybot") is U
    assert state(file, "/ok/", "mybot") is N


def test_legacy_labels_warn_on_the_statement():
    [statement] = robots("User-agent: *\nContent-Usage: ai=n\n").statements(ORIGIN + "/", "mybot")
    assert statement.prefs == {}
    assert any("write train-ai" in w for w in statement.evidence.warnings)


def test_content_usage_only_on_crawlable_paths():
    file = robots("User-agent: *\nDisallow: /private/\nAllow: /private/open\nContent-Usage: train-ai=n\n")
    assert file.statements(ORIGIN + "/private/x", "mybot") == []
    assert state(file, "/private/open/x", "mybot") is N
    assert state(file, "/robots.txt", "mybot") is N  # /robots.txt is always crawlable


# --- RFC 9309 group selection ----------------------------------------------------------------------


def test_all_groups_naming_the_token_are_merged():
    file = robots(
        "User-agent: mybot\nDisallow: /a/\nContent-Usage: train-ai=n\n\n"
        "User-agent: *\nDisallow: /\n\n"
        "User-agent: MyBot\nDisallow: /b/\nContent-Signal: search=no\n"
    )
    assert not file.can_fetch(ORIGIN + "/a/1", "mybot")
    assert not file.can_fetch(ORIGIN + "/b/1", "mybot")
    assert file.can_fetch(ORIGIN + "/c/1", "mybot")
    assert state(file, "/c/1", "mybot") is N
    assert state(file, "/c/1", "mybot", "search") is N
    assert not file.can_fetch(ORIGIN + "/c/1", "otherbot")


def test_star_groups_are_merged_too():
    file = robots("User-agent: *\nDisallow: /a/\n\nUser-agent: x\nDisallow: /\n\nUser-agent: *\nDisallow: /b/\n")
    assert not file.can_fetch(ORIGIN + "/a/", "mybot") and not file.can_fetch(ORIGIN + "/b/", "mybot")
    assert file.can_fetch(ORIGIN + "/c/", "mybot")


def test_several_user_agent_lines_share_one_group():
    file = robots("User-agent: a\nUser-agent: b\nDisallow: /x\nUser-agent: c\nDisallow: /y\n")
    assert not file.can_fetch(ORIGIN + "/x", "a") and not file.can_fetch(ORIGIN + "/x", "b")
    assert file.can_fetch(ORIGIN + "/y", "a") and not file.can_fetch(ORIGIN + "/y", "c")


def test_no_matching_group_and_no_star_means_no_rules():
    file = robots("User-agent: GPTBot\nDisallow: /\n")
    assert file.can_fetch(ORIGIN + "/x", "mybot")


def test_specific_group_does_not_inherit_from_star():
    file = robots("User-agent: *\nDisallow: /private/\nContent-Usage: train-ai=n\n\nUser-agent: mybot\nAllow: /\n")
    assert file.can_fetch(ORIGIN + "/private/x", "mybot")
    assert file.statements(ORIGIN + "/private/x", "mybot") == []


def test_a_token_is_not_matched_by_a_prefix_of_it():
    # Protego alone would let a "Claude" group govern ClaudeBot; RFC 9309 compares whole tokens.
    file = robots("User-agent: Claude\nDisallow: /\n\nUser-agent: *\nAllow: /\n")
    assert file.can_fetch(ORIGIN + "/x", "ClaudeBot")
    assert not Protego.parse("User-agent: Claude\nDisallow: /\n\nUser-agent: *\nAllow: /\n").can_fetch(ORIGIN + "/x", "ClaudeBot")


def test_allow_wins_a_tie_and_the_longest_rule_wins():
    file = robots("User-agent: *\nDisallow: /a\nAllow: /a\nDisallow: /b/\nAllow: /b/c\nDisallow: /*.php$\n")
    assert file.can_fetch(ORIGIN + "/a", "x")
    assert not file.can_fetch(ORIGIN + "/b/d", "x") and file.can_fetch(ORIGIN + "/b/c", "x")
    assert not file.can_fetch(ORIGIN + "/index.php", "x") and file.can_fetch(ORIGIN + "/index.php?x=1", "x")


@pytest.mark.parametrize(
    "value, token",
    [
        ("GPTBot", "gptbot"),
        ("GPTBot/1.3", "gptbot"),
        ("*", "*"),
        (" CCBot ", "ccbot"),
        ("Mozilla/5.0 (compatible)", "mozilla"),
        ("img2dataset", "img2dataset"),
        ("googlebot*", "googlebot"),
        ("", ""),
        ("/x", ""),
    ],
)
def test_product_token(value, token):
    assert product_token(value) == token


def test_ua_values_with_versions_are_read_as_their_token_with_a_warning():
    # signals.md §7.2: "ccbot/2.0" — Google-tolerant parsers match it; notrain does, and tells the publisher.
    file = robots("User-agent: ccbot/2.0\nDisallow: /\n")
    assert not file.can_fetch(ORIGIN + "/", "CCBot")
    assert any("read as 'ccbot'" in w for w in file.warnings)


def test_the_crawler_may_give_its_full_product_with_version():
    assert not robots("User-agent: mybot\nDisallow: /\n").can_fetch(ORIGIN + "/", "MyBot/2.1")


# --- signals.md §7.2: AI crawler tokens --------------------------------------------------------------

AI_FIXTURE = """\
User-agent: GPTBot
User-agent: CCBot
Disallow: /

User-agent: *
Allow: /
Content-Usage: train-ai=n
"""


def test_ai_fixture():
    file = robots(AI_FIXTURE)
    assert not file.can_fetch(ORIGIN + "/article", "GPTBot")
    assert file.can_fetch(ORIGIN + "/article", "mybot")
    assert state(file, "/article", "mybot") is N
    assert state(file, "/article", "mybot", mechanism=ROBOTS_CONTENT_USAGE) is N


def test_a_disallow_for_a_training_crawler_is_a_train_ai_statement():
    file = robots("User-agent: GPTBot\nDisallow: /art/\n\nUser-agent: *\nAllow: /\n")
    [statement] = file.statements(ORIGIN + "/art/cat.png", "mybot")
    assert statement.prefs == {"train-ai": N}
    assert statement.evidence.mechanism == ROBOTS_AI_TOKEN
    assert statement.evidence.rule == "User-agent: GPTBot | Disallow: /art/"
    assert statement.evidence.raw == "Disallow: /art/"
    assert "line 2" in statement.evidence.detail and "OpenAI" in statement.evidence.detail
    assert file.statements(ORIGIN + "/blog/post", "mybot") == []


def test_every_training_crawler_group_that_disallows_speaks():
    file = robots(AI_FIXTURE)
    rules = [s.evidence.rule for s in file.statements(ORIGIN + "/x", "mybot") if s.evidence.mechanism == ROBOTS_AI_TOKEN]
    assert rules == ["User-agent: GPTBot | Disallow: /", "User-agent: CCBot | Disallow: /"]


def test_star_disallow_alone_is_not_an_ai_statement():
    assert robots("User-agent: *\nDisallow: /\n").statements(ORIGIN + "/x", "mybot") == []


@pytest.mark.parametrize("token", ["OAI-SearchBot", "ChatGPT-User", "PerplexityBot", "Claude-User", "Applebot", "Googlebot"])
def test_blocking_search_or_user_fetchers_says_nothing_about_training(token):
    assert robots(f"User-agent: {token}\nDisallow: /\n").statements(ORIGIN + "/x", "mybot") == []


def test_allowing_a_training_crawler_is_no_consent():
    assert robots("User-agent: GPTBot\nAllow: /\n").statements(ORIGIN + "/x", "mybot") == []


def test_training_token_groups_are_found_case_insensitively_and_follow_allow_rules():
    file = robots("user-agent: gptbot\nDisallow: /\nAllow: /public/\n")
    assert mechanisms(file, "/private", "mybot") == [ROBOTS_AI_TOKEN]
    assert mechanisms(file, "/public/x", "mybot") == []


def test_ai_statement_without_a_citable_line_still_names_the_group():
    # Protego reads '/a$b' (a '$' that is not at the end); the core pattern syntax does not.
    [statement] = robots("User-agent: GPTBot\nDisallow: /a$b\n").statements(ORIGIN + "/a$b", "mybot")
    assert statement.evidence.rule == "User-agent: GPTBot" and statement.prefs == {"train-ai": N}


def test_ai_crawler_table():
    tokens = [c.token.lower() for c in AI_CRAWLERS]
    assert len(tokens) == len(set(tokens))
    training = {c.token for c in AI_CRAWLERS if c.purpose == TRAINING}
    assert {
        "GPTBot",
        "ClaudeBot",
        "anthropic-ai",
        "CCBot",
        "Google-Extended",
        "Applebot-Extended",
        "Bytespider",
        "meta-externalagent",
        "cohere-training-data-crawler",
    } <= training
    assert (
        not {
            "OAI-SearchBot",
            "ChatGPT-User",
            "PerplexityBot",
            "Perplexity-User",
            "Claude-User",
            "Claude-SearchBot",
            "Meta-ExternalFetcher",
            "cohere-ai",
            "Applebot",
        }
        & training
    )
    assert len({product_token(t) for t in tokens}) == len(tokens)  # one entry per product token


# i7 §3: the training crawlers of the ai.robots.txt list (robots.json, 2026-08) that an earlier table lacked.
LIST_TRAINING = [
    "AI2Bot", "Ai2Bot-Dolma", "Brightbot", "CloudVertexBot", "Cotoyogi", "DeepSeekBot", "FacebookBot", "Factset_spyderbot",
    "FriendlyCrawler", "ICC-Crawler", "Kangaroo Bot", "Linguee Bot", "PanguBot", "Sidetrade indexer bot", "TikTokSpider",
    "VelenPublicWebCrawler", "Webzio-Extended",
]  # fmt: skip


@pytest.mark.parametrize("name", LIST_TRAINING)
def test_training_crawlers_of_the_community_list_are_in_the_table(name):
    # As the list's robots.txt writes them, names with spaces included; the crawler's own name selects the group.
    file = robots(f"User-agent: {name}\nDisallow: /\n")
    [statement] = file.statements(ORIGIN + "/x", "mybot")
    assert statement.inferred and statement.prefs == {"train-ai": N}
    assert not file.can_fetch(ORIGIN + "/x", name) and file.warnings == ()


# --- signals.md §6.1: Content-Signal -------------------------------------------------------------------

CLOUDFLARE_MANAGED = """\
# As a condition of accessing this website, you agree to abide by the
# following content signals:
# (a)  If a content-signal = yes, you may collect content for the corresponding use.
# (b)  If a content-signal = no, you may not collect content for the corresponding use.
# (c)  If the website operator does not include a content signal for a corresponding use,
#      the website operator neither grants nor restricts permission via content signal with
#      respect to the corresponding use.
# The content signals and their meanings are:
# search: building a search index and providing search results (e.g., returning
#         hyperlinks and short excerpts from your website's contents). Search does not
#         include providing AI-generated search summaries.
# ai-input: inputting content into one or more AI models (e.g., retrieval augmented
#           generation, grounding, or other real-time taking of content for generative AI
#           search answers).
# ai-train: training or fine-tuning AI models.
# ANY RESTRICTIONS EXPRESSED VIA CONTENT SIGNALS ARE EXPRESS RESERVATIONS OF RIGHTS UNDER
# ARTICLE 4 OF THE EUROPEAN UNION DIRECTIVE 2019/790 ON COPYRIGHT AND RELATED RIGHTS IN THE
# DIGITAL SINGLE MARKET.

# BEGIN Cloudflare Managed content

User-Agent: *
Content-signal: search=yes, ai-train=no
Allow: /

User-agent: Amazonbot
Disallow: /

User-agent: Applebot-Extended
Disallow: /

User-agent: Bytespider
Disallow: /

User-agent: CCBot
Disallow: /

User-agent: ClaudeBot
Disallow: /

User-agent: Google-Extended
Disallow: /

User-agent: GPTBot
Disallow: /

User-agent: meta-externalagent
Disallow: /

# END Cloudflare Managed Content

User-agent: *
Disallow: /cdn-cgi/
Sitemap: https://news.example/sitemap.xml
"""


def test_cloudflare_managed_file_for_an_ordinary_crawler():
    file = robots(CLOUDFLARE_MANAGED)
    assert file.warnings == ()
    signal = lambda category: state(file, "/article", "mybot", category, ROBOTS_CONTENT_SIGNAL)
    assert (signal("train-ai"), signal("search"), signal("ai-use")) == (N, Y, U)
    [statement] = [s for s in file.statements(ORIGIN + "/article", "mybot") if s.evidence.mechanism == ROBOTS_CONTENT_SIGNAL]
    assert statement.evidence.raw == "Content-signal: search=yes, ai-train=no"
    assert statement.evidence.rule == "User-agent: *"
    ai = [s.evidence.rule for s in file.statements(ORIGIN + "/article", "mybot") if s.evidence.mechanism == ROBOTS_AI_TOKEN]
    assert len(ai) == 8
    assert not file.can_fetch(ORIGIN + "/cdn-cgi/trace", "mybot")  # the two '*' groups merge


def test_cloudflare_managed_file_for_gptbot():
    file = robots(CLOUDFLARE_MANAGED)
    assert not file.can_fetch(ORIGIN + "/article", "GPTBot")
    assert ROBOTS_CONTENT_SIGNAL not in mechanisms(file, "/article", "GPTBot")


def test_later_managed_form_without_spaces_and_with_use():
    file = robots("User-agent: *\nContent-Signal: search=yes,ai-train=no,use=reference\nAllow: /\n")
    [statement] = file.statements(ORIGIN + "/x", "anybot")
    assert statement.prefs == {"train-ai": N, "search": Y}
    assert "use=reference" in statement.evidence.raw and statement.evidence.warnings == ()


def test_non_standard_content_signal_values_are_unknown():
    [statement] = robots("User-agent: *\nContent-Signal: ai-train=disallow, ai-input=allow\n").statements(ORIGIN + "/", "x")
    assert statement.prefs == {} and len(statement.evidence.warnings) == 2


def test_signal_lines_before_any_group_apply_to_everyone_with_a_warning():
    file = robots("Content-Signal: ai-train=no\nContent-Usage: search=n\n\nUser-agent: GPTBot\nDisallow: /\n")
    for token in ("mybot", "otherbot"):
        assert state(file, "/x", token, mechanism=ROBOTS_CONTENT_SIGNAL) is N
        assert state(file, "/x", token, "search", ROBOTS_CONTENT_USAGE) is N
    statement = file.statements(ORIGIN + "/x", "mybot")[0]
    assert statement.evidence.rule.startswith("(before any User-agent line)")
    assert any("before any User-agent line" in w for w in statement.evidence.warnings)


def test_a_content_signal_applies_only_to_crawlable_paths():
    file = robots("User-agent: *\nDisallow: /private/\nContent-Signal: ai-train=no\n")
    assert file.statements(ORIGIN + "/private/x", "mybot") == []
    assert state(file, "/x", "mybot") is N


def test_content_usage_and_content_signal_combine_most_restrictively():
    file = robots("User-agent: *\nContent-Usage: train-ai=y\nContent-Signal: ai-train=no, search=yes\n")
    assert state(file, "/x", "mybot") is N
    assert state(file, "/x", "mybot", "search") is Y


# --- fetch outcomes ------------------------------------------------------------------------------------


def test_unavailable_allows_everything_and_states_nothing():
    file = RobotsTxt.unavailable(ROBOTS_URL)
    assert file.status == "unavailable"
    assert file.can_fetch(ORIGIN + "/anything", "GPTBot")
    assert file.statements(ORIGIN + "/anything", "GPTBot") == []


def test_unreachable_disallows_everything_and_fails_closed():
    file = RobotsTxt.unreachable(ROBOTS_URL, "HTTP 503")
    assert file.status == "unreachable"
    assert not file.can_fetch(ORIGIN + "/anything", "mybot")
    assert file.can_fetch(ORIGIN + "/robots.txt", "mybot")
    [statement] = file.statements(ORIGIN + "/anything", "mybot")
    assert statement.evidence.mechanism == FAIL_CLOSED and "HTTP 503" in statement.evidence.detail
    assert statement.evidence.source == ROBOTS_URL
    assert all(decide([statement]).state(c) is N for c in ("train-ai", "ai-use", "search"))


def test_an_unsplittable_url_is_a_signal_error():
    with pytest.raises(SignalError) as caught:
        robots("User-agent: *\nDisallow: /\n").can_fetch("http://[::1/x", "mybot")
    assert caught.value.code == "E_SIGNAL_URL"


@pytest.mark.parametrize(
    "url, crawl",
    [
        (ORIGIN + "/?", False),  # an empty query keeps its '?', as in Google's and Protego's matching
        (ORIGIN + "/", True),
        (ORIGIN + "//x?", False),  # '//x' stays a path
        (ORIGIN + "/\udcff?", False),  # a lone surrogate cannot trip the matcher
        ("relative?", False),  # read from the root
    ],
)
def test_awkward_urls(url, crawl):
    assert robots("User-agent: *\nDisallow: /*?\n").can_fetch(url, "mybot") is crawl


def test_a_bare_path_can_be_asked_about():
    file = robots("User-agent: *\nDisallow: /x\nContent-Usage: train-ai=n\n")
    assert not file.can_fetch("/x/1", "mybot") and state(file, "/y", "mybot") is N


# --- real-world-style files ----------------------------------------------------------------------------

NEWS_SITE = """\
# robots.txt for news.example — last updated by the SEO team
# Questions: webmaster@news.example

User-agent: Googlebot
User-agent: Googlebot-News
Disallow: /search
Disallow: /*?s=
Disallow: /preview/
Allow: /search/about

User-agent: Bingbot
Crawl-delay: 2
Disallow: /search

# --- AI crawlers: no training, no scraping --------------------------------
User-agent: GPTBot
User-agent: ChatGPT-User
User-agent: anthropic-ai
User-agent: ClaudeBot
User-agent: Claude-Web
User-agent: CCBot
User-agent: Google-Extended
User-agent: Applebot-Extended
User-agent: Bytespider
User-agent: meta-externalagent
User-agent: cohere-ai
User-agent: cohere-training-data-crawler
User-agent: Diffbot
User-agent: omgili
User-agent: Timpibot
User-agent: img2dataset
Disallow: /

# Search-style AI products may index the news, not the archive
User-agent: OAI-SearchBot
User-agent: PerplexityBot
Disallow: /archive/
Allow: /

User-agent: Amazonbot
Disallow: /archive/
Disallow: /video/

User-agent: *
Disallow: /account/
Disallow: /checkout
Disallow: /*.json$
Disallow: /preview/
Allow: /preview/public/
Content-Usage: train-ai=n, ai-use=n, search=y
Content-Usage: /opinion/ train-ai=n, ai-use=n, search=n

Sitemap: https://news.example/sitemap-index.xml
Sitemap: https://news.example/news-sitemap.xml
"""


@pytest.mark.parametrize(
    "token, path, crawl",
    [
        ("Googlebot", "/politics/story", True),
        ("Googlebot", "/search?q=x", False),
        ("googlebot-news", "/search/about", True),
        ("Googlebot", "/account/", True),  # its own group, no inheritance
        ("GPTBot", "/politics/story", False),
        ("ClaudeBot", "/", False),
        ("OAI-SearchBot", "/politics/story", True),
        ("PerplexityBot", "/archive/1999", False),
        ("Amazonbot", "/video/x", False),
        ("Amazonbot", "/politics", True),
        ("mybot", "/politics/story", True),
        ("mybot", "/account/settings", False),
        ("mybot", "/api/feed.json", False),
        ("mybot", "/api/feed.json?page=2", True),
        ("mybot", "/preview/public/x", True),
        ("mybot", "/preview/secret", False),
        ("mybot", "/robots.txt", True),
    ],
)
def test_news_site_crawl(token, path, crawl):
    assert robots(NEWS_SITE).can_fetch(ORIGIN + path, token) is crawl


def test_news_site_preferences():
    file = robots(NEWS_SITE)
    assert file.warnings == ()
    assert state(file, "/politics/story", "mybot") is N
    assert state(file, "/politics/story", "mybot", "ai-use") is N
    assert state(file, "/politics/story", "mybot", "search") is Y
    assert state(file, "/opinion/column", "mybot", "search") is N
    assert file.statements(ORIGIN + "/account/settings", "mybot")[0].evidence.mechanism == ROBOTS_AI_TOKEN
    # Googlebot has its own group: no Content-Usage there, only the AI-crawler reading.
    assert set(mechanisms(file, "/politics/story", "Googlebot")) == {ROBOTS_AI_TOKEN}


def test_news_site_ai_statements_name_training_crawlers_only():
    file = robots(NEWS_SITE)
    named = {
        s.evidence.rule.split(" | ")[0].removeprefix("User-agent: ")
        for s in file.statements(ORIGIN + "/politics/story", "mybot")
        if s.evidence.mechanism == ROBOTS_AI_TOKEN
    }
    assert named == {
        "GPTBot",
        "anthropic-ai",
        "ClaudeBot",
        "CCBot",
        "Google-Extended",
        "Applebot-Extended",
        "Bytespider",
        "meta-externalagent",
        "cohere-training-data-crawler",
        "Diffbot",
        "omgili",
        "Timpibot",
        "img2dataset",
    }
    archive = {
        s.evidence.rule for s in file.statements(ORIGIN + "/archive/1999", "mybot") if s.evidence.mechanism == ROBOTS_AI_TOKEN
    }
    assert "User-agent: Amazonbot | Disallow: /archive/" in archive


def test_broken_lines_are_skipped_with_warnings():
    text = (
        "User-agent *\n"  # no colon
        "<html><body>Not Found</body></html>\n"
        "User agent: mybot\n"  # misspelt key, read anyway
        "Dissallow: /typo/\n"  # misspelt Disallow, read anyway
        "Disallow:\n"  # empty: disallows nothing
        "Noindex: /x\n"  # unknown directive
        "Crawl-delay: 10\n"  # known, not read, no warning
        "Content-Usage: train-ai=n\n"
        "Disallow: /a b/\n"  # a space inside a path
        "\x00\x01garbage: \x7f\n"
    )
    file = robots(text)
    assert not file.can_fetch(ORIGIN + "/typo/x", "mybot")
    assert file.can_fetch(ORIGIN + "/other", "mybot")
    assert not file.can_fetch(ORIGIN + "/a%20b/c", "mybot")
    assert state(file, "/other", "mybot") is N
    joined = "\n".join(file.warnings)
    assert "line 1 has no ':'" in joined and "line 2 has no ':'" in joined
    assert "'user agent' is read as 'user-agent'" in joined and "'dissallow' is read as 'disallow'" in joined
    assert "unknown directive 'noindex'" in joined and "crawl-delay" not in joined


def test_rules_before_any_group_are_ignored_with_a_warning():
    file = robots("Disallow: /\nUser-agent: *\nDisallow: /x\n")
    assert file.can_fetch(ORIGIN + "/y", "mybot")
    assert any("before any User-agent line is ignored" in w for w in file.warnings)


def test_lines_without_a_colon_are_read_as_google_and_protego_read_them():
    # robots_test.cc ID_LineSyntax_Line: "it's obvious what they mean by 'disallow /'".
    file = robots("user-agent FooBot\ndisallow /\n")
    assert not file.can_fetch(ORIGIN + "/x/y", "FooBot") and file.can_fetch(ORIGIN + "/x/y", "BarBot")
    assert any("line 2 has no ':'; read as 'disallow'" in w for w in file.warnings)


def test_a_line_without_a_colon_needs_exactly_two_words_and_a_known_label():
    file = robots("user-agent: FooBot\ndisallow / x\nfoo /\n")
    assert file.can_fetch(ORIGIN + "/x", "FooBot")
    assert sum("has no ':' and is ignored" in w for w in file.warnings) == 2


def test_a_content_usage_line_without_a_colon_is_read_too():
    assert state(robots("User-agent: *\nContent-Usage train-ai=n\n"), "/x", "mybot") is N


def test_an_unknown_line_does_not_end_a_run_of_user_agent_lines():
    # robots_test.cc ID_LineSyntax_Groups_OtherRules; Protego would start a new group here.
    file = robots("User-agent: FooBot\nInvalid-Unknown-Line: unknown\nUser-agent: *\nDisallow: /\n")
    assert not file.can_fetch(ORIGIN + "/", "FooBot") and not file.can_fetch(ORIGIN + "/", "BarBot")


def test_a_non_ascii_user_agent_is_cut_as_google_cuts_it_and_collides_with_no_other_name():
    file = robots("User-agent: Jävla-Foobot\nDisallow: /\n\nUser-agent: jävla-fanbot\nDisallow: /private/\n")
    # google/robotstxt reads both values as "J" and compares the crawler's token whole: neither name obeys them.
    assert file.can_fetch(ORIGIN + "/x", "jävla-fanbot") and file.can_fetch(ORIGIN + "/x", "Jävla-Foobot")
    assert not file.can_fetch(ORIGIN + "/x", "J") and not file.can_fetch(ORIGIN + "/private/x", "j")
    assert any("read as 'j', as google/robotstxt reads it" in w for w in file.warnings)


def test_a_star_followed_by_more_text_is_still_the_global_group():
    # robots.cc HandleUserAgent: "a '*' followed by space and more characters ... is still regarded a global rule".
    assert not robots("User-agent: * # everyone\nUser-agent: * all\nDisallow: /\n").can_fetch(ORIGIN + "/x", "mybot")


@pytest.mark.parametrize(
    "path, train",
    [("/a*b", N), ("/a%2Ab", N), ("/a%2ab", N), ("/aXb", U), ("/price$", N), ("/price%24", N), ("/price", U), ("/q?x=$1", N)],
)
def test_escaped_star_and_dollar_in_content_usage_paths_match_the_literal_characters(path, train):
    # RFC 9309 §2.2.3: "%2A" and "%24" match a literal "*" and "$"; attach-05 uses robots.txt path matching.
    file = robots("User-agent: *\nContent-Usage: /a%2Ab train-ai=n\nContent-Usage: /price%24 train-ai=n\nContent-Usage: /q?x=%24 train-ai=n\n")
    assert state(file, path, "mybot") is train


def test_wildcards_still_match_literal_stars_and_dollars():
    file = robots("User-agent: *\nContent-Usage: /a*b train-ai=n\nContent-Usage: /c$ train-ai=n\n")
    assert state(file, "/a*b", "mybot") is N and state(file, "/aXb", "mybot") is N
    assert state(file, "/c", "mybot") is N and state(file, "/c$", "mybot") is U


def test_an_explicit_content_usage_beats_the_training_crawler_inference():
    # i7 §3: a GPTBot block must not overrule the site's own "Content-Usage: /open/ train-ai=y" for /open/.
    file = robots("User-agent: GPTBot\nDisallow: /\n\nUser-agent: *\nAllow: /\nContent-Usage: /open/ train-ai=y\n")
    decision = decide(file.statements(ORIGIN + "/open/poem", "mybot"))
    assert decision.state("train-ai") is Y
    [overruled] = decision.outcomes["train-ai"].overruled
    assert overruled.inferred and overruled.evidence.rule == "User-agent: GPTBot | Disallow: /"
    assert state(file, "/closed/poem", "mybot") is N  # nothing explicit there: the inference fills it


def test_an_explicit_n_and_the_inference_agree():
    file = robots("User-agent: GPTBot\nDisallow: /\n\nUser-agent: *\nContent-Usage: train-ai=n\n")
    decision = decide(file.statements(ORIGIN + "/x", "mybot"))
    assert decision.state("train-ai") is N and [s.evidence.mechanism for s in decision.outcomes["train-ai"].because] == [ROBOTS_CONTENT_USAGE]


def test_a_directive_between_user_agent_lines_starts_a_new_group():
    # Crawl-delay is a rule of group a (as Protego reads it), so it ends a's run of user-agent lines.
    file = robots("User-agent: a\nCrawl-delay: 5\nUser-agent: b\nDisallow: /\n")
    assert file.can_fetch(ORIGIN + "/", "a") and not file.can_fetch(ORIGIN + "/", "b")


def test_sitemap_lines_do_not_split_groups():
    file = robots("User-agent: a\nSitemap: https://x/s.xml\nUser-agent: b\nDisallow: /\n")
    assert not file.can_fetch(ORIGIN + "/", "a")


def test_byte_order_mark():
    file = robots(b"\xef\xbb\xbfUser-agent: *\nDisallow: /x\nContent-Usage: train-ai=n\n")
    assert not file.can_fetch(ORIGIN + "/x", "mybot") and state(file, "/y", "mybot") is N
    assert file.warnings == ()


@pytest.mark.parametrize("eol", ["\r\n", "\r", "\n"])
def test_line_endings(eol):
    file = robots(eol.join(["User-agent: *", "Disallow: /x", "Content-Usage: /y/ train-ai=n", ""]))
    assert not file.can_fetch(ORIGIN + "/x", "mybot")
    assert state(file, "/y/1", "mybot") is N and state(file, "/z", "mybot") is U


def test_other_unicode_line_breaks_do_not_split_lines():
    # Only CR and LF end a line (RFC 9309); U+2028 inside a value must not smuggle in a rule.
    file = robots("User-agent: *\nDisallow: /a\u2028Allow: /\n")
    assert file.can_fetch(ORIGIN + "/b", "mybot") and file.can_fetch(ORIGIN + "/a", "mybot")


def test_non_utf8_bytes_are_replaced_with_a_warning():
    file = robots(b"User-agent: *\nDisallow: /caf\xe9/\nDisallow: /private/\nContent-Usage: train-ai=n\n")
    assert not file.can_fetch(ORIGIN + "/private/x", "mybot")
    assert state(file, "/x", "mybot") is N
    assert any("not valid UTF-8" in w for w in file.warnings)


def test_a_600_kib_file_is_read_to_500_kib():
    head = "User-agent: *\nDisallow: /early/\nContent-Usage: train-ai=n\n"
    filler = "".join(f"Disallow: /filler/{i:08d}/\n" for i in range(30_000))
    cut = (head + filler).encode()[:MAX_OCTETS]
    straddling = "Allow: /early/but-this-is-far-too-long-to-fit/\n"
    body = cut[: cut.rfind(b"\n") + 1]
    body += straddling.encode()  # crosses the 500 KiB limit
    body += b"Disallow: /late/\n" + b"# padding\n" * 12_000
    assert len(body) > 600 * 1024
    file = robots(body)
    assert any("only the first" in w for w in file.warnings)
    assert not file.can_fetch(ORIGIN + "/early/x", "mybot")
    assert not file.can_fetch(ORIGIN + "/early/but-this-is-far-too-long-to-fit/", "mybot")  # the cut line is dropped
    assert file.can_fetch(ORIGIN + "/late/x", "mybot")  # beyond the limit
    assert not file.can_fetch(ORIGIN + "/filler/00000001/", "mybot")
    assert state(file, "/x", "mybot") is N


def test_parse_once_answer_many():
    file = robots(NEWS_SITE)
    urls = [ORIGIN + f"/section/{i}/story?id={i}" for i in range(2000)]
    assert all(file.can_fetch(url, "mybot") for url in urls)
    assert all(decide(file.statements(url, "mybot")).state("train-ai") is N for url in urls)


def test_many_warnings_are_capped():
    file = robots("User-agent: *\n" + "nonsense line\n" * 10_000)
    assert len(file.warnings) <= 51 and file.warnings[-1].endswith("more warnings")


# --- differential and fuzzing --------------------------------------------------------------------------

patterns = st.text(st.sampled_from("/ab*$%2F.?=é"), max_size=8).map(lambda s: "/" + s)
paths = st.text(st.sampled_from("/ab.?=%2Fé$"), max_size=10).map(lambda s: "/" + s)


@given(st.lists(st.tuples(st.sampled_from(["Allow", "Disallow"]), patterns), max_size=8), paths)
@settings(max_examples=300)
def test_one_group_files_answer_as_protego_does(rules, path):
    text = "User-agent: *\n" + "".join(f"{key}: {pattern}\n" for key, pattern in rules)
    assert robots(text).can_fetch(ORIGIN + path, "mybot") == Protego.parse(text).can_fetch(ORIGIN + path, "mybot")


robots_lines = st.lists(
    st.one_of(
        st.sampled_from(
            [
                "User-agent: *",
                "User-agent: GPTBot",
                "user-agent: mybot",
                "Allow: /",
                "Disallow: /",
                "Disallow: /a",
                "Content-Usage: train-ai=n",
                "Content-Usage: /a train-ai=y",
                "Content-Signal: ai-train=no",
                "Content-Usage: /a$b y",
                "Disallow: *.jpg",
                "Sitemap: x",
                "",
                "# c",
                "Crawl-delay: 1",
                "\ufeff",
                "Content-Usage: /%zz n",
                "Allow: /a%",
                "Disallow: /a\x0bAllow: /",
            ]
        ),
        st.text(max_size=30),
    ),
    max_size=25,
)
urls = st.one_of(paths.map(lambda p: ORIGIN + p), st.text(max_size=30))
tokens = st.one_of(st.sampled_from(["mybot", "GPTBot", "*", "", "ccbot/2.0"]), st.text(max_size=10))


def _exercise(file: RobotsTxt, url: str, token: str) -> None:
    try:
        assert isinstance(file.can_fetch(url, token), bool)
        assert all(isinstance(s, Statement) for s in file.statements(url, token))
    except SignalError:
        pass


@given(robots_lines, st.sampled_from(["\n", "\r\n", "\r"]), urls, tokens)
@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
def test_fuzz_robots_text(lines, eol, url, token):
    file = robots(eol.join(lines))
    assert all(isinstance(w, str) for w in file.warnings)
    _exercise(file, url, token)


@given(st.binary(max_size=300), urls, tokens)
@settings(max_examples=300)
def test_fuzz_robots_bytes(body, url, token):
    _exercise(robots(body), url, token)
