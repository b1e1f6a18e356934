"""Spawning ai.txt: file-type rules about AI training (refs/signals.md §3.2)."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from notrain.core import decide
from notrain.core.vocab import State
from notrain.signals.aitxt import HONOURED_BY_FEW, AiTxt
from notrain.signals.base import AI_TXT, SignalError

Y, N, U = State.ALLOWED, State.DISALLOWED, State.UNKNOWN
ORIGIN = "https://art.example"
AI_TXT_URL = ORIGIN + "/ai.txt"

FIXTURE_A = """\
# Spawning AI
# Prevent datasets from using the following file types

User-Agent: *
Disallow: /
Disallow: *
"""

FIXTURE_B = """\
# Spawning AI
/

User-agent: *
/
Allow: *.bmp
Allow: *.jpg
Allow: *.png
Disallow: *.mp3
Disallow: *.mp4
Disallow: *.txt
Disallow: *.pdf
Disallow: *.html
Disallow: *.py
Disallow: /
"""

# Full generator output with images and text allowed (Text allowed => trailing "Allow: /").
IMAGES = ["bmp", "gif", "ico", "jpeg", "jpg", "png", "svg", "tif", "tiff", "webp", "eps", "ai", "indd", "heif", "raw", "psd"]
IMAGES += ["cr2", "nef", "orf", "sr2"]
AUDIO = ["aac", "aiff", "amr", "flac", "m4a", "mp3", "oga", "opus", "wav", "wma"]
VIDEO = ["mp4", "webm", "ogg", "avi", "mov"]
CODE = ["py", "js", "java"]
GENERATED = (
    "# Spawning AI\n# Prevent datasets from using the following file types\n/\n\nUser-Agent: *\n/\n"
    + "".join(f"Allow: *.{ext}\n" for ext in IMAGES)
    + "".join(f"Disallow: *.{ext}\n" for ext in AUDIO + VIDEO + CODE)
    + "Allow: /\n"
)


def ai_txt(text: str | bytes) -> AiTxt:
    return AiTxt.parse(text.encode() if isinstance(text, str) else text, AI_TXT_URL)


def train(file: AiTxt, path: str, token: str = "mybot") -> State:
    return decide(file.statements(ORIGIN + path, token)).state("train-ai")


@pytest.mark.parametrize("path", ["/", "/gallery/cat.jpg", "/about", "/song.mp3", "/x?y=1"])
def test_fixture_a_opts_everything_out(path):
    assert train(ai_txt(FIXTURE_A), path) is N


@pytest.mark.parametrize(
    "path, expected",
    [
        ("/gallery/cat.jpg", Y),  # '*.jpg' is 5 octets, '/' is 1
        ("/post.html", N),
        ("/about", N),  # the global '/'
        ("/song.mp3", N),
        ("/scan.png", Y),
        ("/x.jpg.html", N),  # '*.html' (6) beats '*.jpg' (5)
    ],
)
def test_fixture_b(path, expected):
    assert train(ai_txt(FIXTURE_B), path) is expected


@pytest.mark.parametrize(
    "path, expected",
    [
        ("/portfolio/piece.psd", Y),
        ("/a.cr2", Y),
        ("/track.flac", N),
        ("/clip.mov", N),
        ("/app.js", N),
        ("/essay", Y),
    ],
)
def test_generated_file(path, expected):
    assert train(ai_txt(GENERATED), path) is expected


def test_stray_slash_lines_are_skipped_with_warnings():
    file = ai_txt(FIXTURE_B)
    assert [w for w in file.warnings if "has no ':'" in w] == [
        "ai.txt line 2 has no ':' and is ignored: '/'",
        "ai.txt line 5 has no ':' and is ignored: '/'",
    ]


def test_without_dollar_a_pattern_matches_inside_the_path():
    # signals.md §3.2 quirk: "*.jpg" also matches "/x.jpg.html".
    assert train(ai_txt("User-agent: *\nAllow: *.jpg\nDisallow: /\n"), "/x.jpg.html") is Y


def test_statements_are_about_training_only_with_evidence_and_a_warning():
    [statement] = ai_txt(FIXTURE_B).statements(ORIGIN + "/post.html", "mybot")
    assert statement.prefs == {"train-ai": N}
    evidence = statement.evidence
    assert evidence.mechanism == AI_TXT and evidence.source == AI_TXT_URL
    assert evidence.raw == "Disallow: *.html" and evidence.rule == "User-agent: * | *.html"
    assert evidence.detail == "line 13"
    assert HONOURED_BY_FEW in evidence.warnings


def test_allow_is_a_train_ai_y_statement():
    [statement] = ai_txt(FIXTURE_B).statements(ORIGIN + "/a.png", "mybot")
    assert statement.prefs == {"train-ai": Y}


def test_equal_length_rules_combine_most_restrictively():
    file = ai_txt("User-agent: *\nAllow: *.png\nDisallow: /art\n")
    assert len(file.statements(ORIGIN + "/art.png", "mybot")) == 1  # '/art' (4) vs '*.png' (5)
    file = ai_txt("User-agent: *\nAllow: *.png\nDisallow: /art/\n")
    found = file.statements(ORIGIN + "/art/.png", "mybot")
    assert len(found) == 2 and decide(found).state("train-ai") is N


def test_patterns_without_a_leading_slash_or_star_are_read_as_paths():
    file = ai_txt("User-agent: *\nDisallow: images/\n")
    assert train(file, "/images/a.png") is N
    assert any("read as '/images/'" in w for w in file.warnings)


def test_invalid_patterns_are_ignored_with_a_warning():
    file = ai_txt("User-agent: *\nDisallow: /a$b\nDisallow: /ok\n")
    assert train(file, "/a$b") is U and train(file, "/ok") is N
    assert any("'/a$b' is ignored" in w for w in file.warnings)


def test_groups_are_selected_as_in_robots_txt():
    file = ai_txt("User-agent: *\nDisallow: /\n\nUser-agent: mybot\nAllow: *.jpg\n")
    assert train(file, "/a.jpg", "MyBot") is Y
    assert train(file, "/a.txt", "mybot") is U  # no inheritance from '*'
    assert train(file, "/a.txt", "otherbot") is N


def test_no_group_no_statements():
    assert ai_txt("User-agent: spawningbot\nDisallow: /\n").statements(ORIGIN + "/x", "mybot") == []
    assert ai_txt("").statements(ORIGIN + "/x", "mybot") == []


def test_rules_before_any_group_are_ignored_with_a_warning():
    file = ai_txt("Disallow: *.jpg\n")
    assert file.statements(ORIGIN + "/a.jpg", "mybot") == []
    assert any("before any User-agent line" in w for w in file.warnings)


def test_bom_crlf_and_bad_bytes():
    file = ai_txt(b"\xef\xbb\xbfUser-agent: *\r\nDisallow: *.r\xe9w\r\nDisallow: *.mp3\r\n")
    assert train(file, "/a.mp3") is N
    assert any("not valid UTF-8" in w for w in file.warnings)


def test_unsplittable_url():
    with pytest.raises(SignalError):
        ai_txt(FIXTURE_A).statements("http://[x/", "mybot")


@given(
    st.lists(
        st.one_of(
            st.sampled_from(
                [
                    "User-agent: *",
                    "Allow: *.jpg",
                    "Disallow: /",
                    "Disallow: *",
                    "/",
                    "Allow: a$b",
                    "Disallow: *%",
                    "user-agent: mybot",
                ]
            ),
            st.text(max_size=20),
        ),
        max_size=15,
    ),
    st.one_of(st.text(max_size=20), st.text(st.sampled_from("/a.jpg$%*"), max_size=10).map(lambda p: ORIGIN + "/" + p)),
    st.sampled_from(["mybot", "*", "", "x/1"]),
)
@settings(max_examples=400)
def test_fuzz(lines, url, token):
    file = ai_txt("\n".join(lines))
    try:
        for statement in file.statements(url, token):
            assert statement.evidence.mechanism == AI_TXT
    except SignalError:
        pass


@given(st.binary(max_size=200))
@settings(max_examples=200)
def test_fuzz_bytes(body):
    assert isinstance(ai_txt(body).statements(ORIGIN + "/a.jpg", "mybot"), list)
