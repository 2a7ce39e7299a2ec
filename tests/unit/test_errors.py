"""Every error message is one bounded line with control characters escaped."""

from __future__ import annotations

from components.errors import (
    MAX_MESSAGE_CHARS,
    ExportJobFailedError,
    ParameterError,
    QuickSightPromotionError,
    clean,
    listing,
)


def test_control_characters_and_ansi_escapes_are_escaped_in_every_message() -> None:
    error = ExportJobFailedError("job 'j' FAILED: line one\nFORGED: ok\r\x1b[31mred\x1b[0m \u2028 \u202e")
    text = str(error)
    assert "\n" not in text and "\r" not in text and "\x1b" not in text and "\u2028" not in text
    assert "line one\\x0aFORGED: ok\\x0d\\x1b[31mred\\x1b[0m \\u2028 \\u202e" in text


def test_messages_are_bounded_and_say_how_much_was_cut() -> None:
    text = str(QuickSightPromotionError("x" * (MAX_MESSAGE_CHARS * 3)))
    assert len(text) <= MAX_MESSAGE_CHARS
    assert text.endswith(f"... ({MAX_MESSAGE_CHARS * 3 - (MAX_MESSAGE_CHARS - 40):,} more characters)")


def test_subclasses_with_their_own_init_are_bounded_too() -> None:
    error = ParameterError("p\n" * 10_000, ("a",))
    assert "\n" not in str(error) and len(str(error)) <= MAX_MESSAGE_CHARS
    assert error.problems == ("a",)


def test_clean_keeps_ordinary_text_and_unicode() -> None:
    assert clean("Ventes 売上: ok") == "Ventes 売上: ok"
    assert clean("abc", limit=100) == "abc"
    assert clean("a" * 100, limit=50) == "a" * 10 + "... (90 more characters)"


def test_listing_shows_the_first_entries_and_counts_the_rest() -> None:
    assert listing(["a", "b"]) == "a; b"
    assert listing([f"e{i}" for i in range(12)], limit=3) == "e0; e1; e2; and 9 more"
    assert listing(["bad\nline"]) == "bad\\x0aline"
