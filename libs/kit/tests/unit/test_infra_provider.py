"""Where a container engine answers but the suite's images cannot be had (no registry: an air-gapped data
centre, these machines), the test infrastructure goes native instead of failing on a pull (issue 11)."""

from __future__ import annotations

import subprocess

from binhchon_kit.testing.infra import TEST_IMAGES, images_ready


class Engine:
    """A docker CLI that knows some images and can pull some others (or hangs on a pull)."""

    def __init__(self, present=(), pullable=(), hangs=False):
        self.present, self.pullable, self.hangs = set(present), set(pullable), hangs
        self.calls: list[list[str]] = []

    def __call__(self, args, capture_output, timeout):
        self.calls.append(args)
        image = args[-1]
        if args[1:3] == ["image", "inspect"]:
            return subprocess.CompletedProcess(args, 0 if image in self.present else 1)
        if self.hangs:
            raise subprocess.TimeoutExpired(args, timeout)
        if image in self.pullable:
            self.present.add(image)
            return subprocess.CompletedProcess(args, 0)
        return subprocess.CompletedProcess(args, 1)


def test_images_on_the_engine_are_used_without_a_pull():
    engine = Engine(present=TEST_IMAGES)
    assert images_ready(run=engine) is None
    assert all(call[1] == "image" for call in engine.calls)


def test_a_missing_image_is_pulled_where_a_registry_answers():
    engine = Engine(present=TEST_IMAGES[:1], pullable=TEST_IMAGES[1:])
    assert images_ready(run=engine) is None
    assert ["docker", "pull", TEST_IMAGES[1]] in engine.calls


def test_no_registry_means_native_and_says_which_image():
    why = images_ready(run=Engine())
    assert why == f"{TEST_IMAGES[0]} is not on the engine and no registry gave it"


def test_a_pull_that_hangs_is_given_up_in_bounded_time():
    why = images_ready(run=Engine(hangs=True), pull_seconds=7)
    assert why == f"{TEST_IMAGES[0]} is not on the engine and did not arrive within 7s"


def test_the_locally_built_images_are_named_from_the_pinned_versions():
    from binhchon_kit.testing.infra import local_images, pinned_versions

    v = pinned_versions()
    assert local_images() == (f"binhchon/kafka:{v['KAFKA_VERSION']}",
                              f"binhchon/ferretdb:{v['FERRETDB_VERSION']}-{v['FERRETDB_BUILD']}")


def test_locally_built_images_are_only_looked_up_never_pulled():
    from binhchon_kit.testing.infra import images_present, local_images

    built = local_images()
    engine = Engine(present=built[:1], pullable=built)
    assert images_present(built, run=engine) is False
    assert all(call[1:3] == ["image", "inspect"] for call in engine.calls)
    assert images_present(built, run=Engine(present=built)) is True
