"""``coroscope.awaitable`` is a map (``src/awaitable.rs``): each awaitable has a
lesson file of its own, and a test file of its own beside this one."""

from tests.maps import check_map


def test_every_awaitable_comes_from_one_lesson_file_with_its_own_tests() -> None:
    check_map("awaitable")
