"""The per-reader cooldown: rate per window, one notice per window, and windows that expire."""

from __future__ import annotations

from bot.discord.cooldown import QuestionCooldown


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_rate_questions_per_window_then_the_wait_until_it_ends() -> None:
    clock = Clock()
    cooldown = QuestionCooldown(2, 60.0, clock=clock)
    assert cooldown.retry_after(1) is None
    clock.now += 10
    assert cooldown.retry_after(1) is None
    assert cooldown.retry_after(1) == 50.0  # the window opened at the first question
    assert cooldown.retry_after(2) is None  # another reader has their own window
    clock.now += 50
    assert cooldown.retry_after(1) is None  # a new window


def test_one_notice_per_window() -> None:
    clock = Clock()
    cooldown = QuestionCooldown(1, 60.0, clock=clock)
    assert cooldown.first_notice(1) and not cooldown.first_notice(1)
    clock.now += 60
    assert cooldown.first_notice(1)


def test_expired_windows_are_swept_not_kept() -> None:
    clock = Clock()
    cooldown = QuestionCooldown(5, 60.0, clock=clock)
    for reader in range(20_000):
        cooldown.retry_after(reader)
    assert len(cooldown) == 20_000
    clock.now += 61
    cooldown.retry_after(99_999)
    assert len(cooldown) == 1
