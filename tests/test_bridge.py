"""``coroscope.bridge`` is a map (``src/bridge.rs``): each bridge, and the PyBurger
domain they share, has a lesson file and a test file of its own."""

from tests.maps import check_map


def test_every_bridge_comes_from_one_lesson_file_with_its_own_tests() -> None:
    check_map("bridge")
