"""Sessions without a cookie cannot fill the portal's memory: a visitor's session not signed in lives a short
while, and past the cap the oldest of those go first; a signed-in person's keeps its full time."""

from __future__ import annotations

from portal.sessions import ANONYMOUS_SECONDS, SWEEP_ABOVE, Sessions


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_session_not_signed_in_lives_a_short_while_a_signed_in_one_its_full_time() -> None:
    clock = Clock()
    sessions = Sessions(8 * 60, clock)
    visitor = sessions.new()
    person = sessions.signed_in(sessions.new(), subject="htx", name="HTX", roles=("applicant",), access_token="t")
    clock.now += ANONYMOUS_SECONDS + 1
    assert sessions.get(visitor.id) is None
    assert sessions.get(person.id) is person
    clock.now += 8 * 3600
    assert sessions.get(person.id) is None


def test_requests_without_cookies_never_grow_the_store_past_its_cap_nor_push_out_a_signed_in_person() -> None:
    sessions = Sessions(8 * 60, Clock(), max_sessions=SWEEP_ABOVE + 100)
    person = sessions.signed_in(sessions.new(), subject="htx", name="HTX", roles=("applicant",), access_token="t")
    made = [sessions.new() for _ in range(5 * (SWEEP_ABOVE + 100))]
    assert len(sessions) <= SWEEP_ABOVE + 100
    assert sessions.get(person.id) is person
    assert sessions.get(made[-1].id) is made[-1]  # the newest stay, the oldest went
    assert sessions.get(made[0].id) is None
