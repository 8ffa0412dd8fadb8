"""``coroscope.await_from_rust`` is a map (``src/await_from_rust.rs``): the drivers,
the stepping tools and the Task each have a lesson file and a test file."""

from tests.maps import check_map


def test_every_driver_comes_from_one_lesson_file_with_its_own_tests() -> None:
    check_map("await_from_rust")
