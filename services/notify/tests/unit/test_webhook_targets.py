"""Where a webhook may point (ADR 0028): every range an SSRF reaches, as a literal address, as an IPv4-mapped IPv6
address and as a name a (fake) resolver answers with it; the allow-list; the URL's form; and a delivery to a
refused target never leaves notify, its log line saying our reason only."""

from __future__ import annotations

import pytest

from notify.adapters.channels import DeliveryError, Webhook
from notify.adapters.targets import ForbiddenTarget, Targets, networks, why_forbidden

FORBIDDEN = {  # address: what the refusal calls it
    "127.0.0.1": "loopback", "127.8.9.10": "loopback", "::1": "loopback",
    "10.0.0.5": "private", "172.16.3.4": "private", "192.168.1.1": "private",
    "169.254.169.254": "cloud metadata", "fd00:ec2::254": "cloud metadata", "100.100.100.200": "cloud metadata",
    "169.254.10.1": "link-local", "fe80::1": "link-local",
    "fc00::1": "unique-local", "fd12:3456::1": "unique-local",
    "224.0.0.1": "multicast", "239.255.255.250": "multicast", "ff02::1": "multicast",
    "0.0.0.0": "unspecified", "::": "unspecified",
    "100.64.0.1": "carrier-grade NAT", "100.127.255.254": "carrier-grade NAT",
    "192.0.2.10": "private", "198.18.0.1": "private", "240.0.0.1": "reserved",
    "::ffff:127.0.0.1": r"loopback address \(IPv4-mapped\)", "::ffff:10.1.2.3": r"private address \(IPv4-mapped\)",
    "::ffff:169.254.169.254": r"cloud metadata address \(IPv4-mapped\)",
}
PUBLIC = ["8.8.8.8", "203.113.131.1", "2001:4860:4860::8888", "::ffff:8.8.8.8"]


class FakeResolver:
    """Names to the addresses a test says, and how often each was asked."""

    def __init__(self, names: dict[str, list[str]]) -> None:
        self.names = names
        self.asked: list[tuple[str, int]] = []

    async def resolve(self, host: str, port: int) -> list[str]:
        self.asked.append((host, port))
        if host not in self.names:
            raise OSError("Name or service not known")
        return self.names[host]


def _url(address: str, scheme: str = "https") -> str:
    return f"{scheme}://[{address}]:8443/hook" if ":" in address else f"{scheme}://{address}:8443/hook"


@pytest.mark.parametrize(("address", "what"), FORBIDDEN.items(), ids=list(FORBIDDEN))
def test_each_inward_range_is_named(address, what):
    import ipaddress
    import re

    reason = why_forbidden(ipaddress.ip_address(address))
    assert reason is not None and re.search(what, reason)


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_pass(address):
    import ipaddress

    assert why_forbidden(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize("address", list(FORBIDDEN), ids=list(FORBIDDEN))
async def test_a_literal_inward_url_is_refused_naming_the_address(address):
    with pytest.raises(ForbiddenTarget, match=FORBIDDEN[address]) as refused:
        await Targets(resolver=FakeResolver({})).check(_url(address))
    assert address in refused.value.reason


@pytest.mark.parametrize("address", list(FORBIDDEN), ids=list(FORBIDDEN))
async def test_a_name_resolving_inward_is_refused_without_saying_where(address):
    resolver = FakeResolver({"hooks.so-nnptnt.example.vn": [address]})
    with pytest.raises(ForbiddenTarget) as refused:
        await Targets(resolver=resolver).check("https://hooks.so-nnptnt.example.vn/ocop")
    # the same words as a name that does not resolve: the answer tells nothing of internal names
    assert refused.value.reason == "hooks.so-nnptnt.example.vn does not resolve to a public address"
    assert resolver.asked == [("hooks.so-nnptnt.example.vn", 443)]


async def test_one_inward_address_among_public_ones_is_refused():
    resolver = FakeResolver({"split.example.vn": ["203.113.131.1", "10.0.0.7"]})
    with pytest.raises(ForbiddenTarget, match="does not resolve to a public address"):
        await Targets(resolver=resolver).check("https://split.example.vn/")


async def test_a_name_that_does_not_resolve_reads_like_an_inward_one():
    with pytest.raises(ForbiddenTarget, match=r"^nowhere\.example\.vn does not resolve to a public address$"):
        await Targets(resolver=FakeResolver({})).check("https://nowhere.example.vn/")


async def test_a_public_name_is_connected_to_at_the_address_checked():
    resolver = FakeResolver({"hooks.example.vn": ["203.113.131.1"]})
    target = await Targets(resolver=resolver).check("https://hooks.example.vn:8443/ocop?v=1")
    assert target.address == "203.113.131.1" and target.host == "hooks.example.vn" and target.is_name
    assert str(target.connect_url()) == "https://203.113.131.1:8443/ocop?v=1"


async def test_decimal_and_short_forms_of_loopback_are_judged_by_what_they_resolve_to():
    # getaddrinfo reads "2130706433" and "127.1" as 127.0.0.1: they are names to us, and resolved like one
    resolver = FakeResolver({"2130706433": ["127.0.0.1"], "127.1": ["127.0.0.1"]})
    for host in ("2130706433", "127.1"):
        with pytest.raises(ForbiddenTarget, match="does not resolve to a public address"):
            await Targets(resolver=resolver).check(f"https://{host}/")


@pytest.mark.parametrize(("url", "why"), [
    ("http://203.113.131.1/hook", "must be https"), ("ftp://203.113.131.1/", "must be https"),
    ("https://user:secret@203.113.131.1/", "user name or password"), ("file:///etc/passwd", "must be https"),
])
async def test_the_urls_form(url, why):
    with pytest.raises(ForbiddenTarget, match=why):
        await Targets(resolver=FakeResolver({})).check(url)


async def test_http_and_inward_addresses_pass_only_where_the_settings_say():
    targets = Targets(allow_http=True, allowed=networks("127.0.0.1/32, ::1"),
                      resolver=FakeResolver({"receiver.test": ["127.0.0.1"]}))
    assert (await targets.check("http://127.0.0.1:9000/h")).address == "127.0.0.1"
    assert (await targets.check("http://[::1]:9000/h")).address == "::1"
    assert (await targets.check("http://[::ffff:127.0.0.1]:9000/h")).address == "::ffff:7f00:1"
    assert (await targets.check("http://receiver.test:9000/h")).address == "127.0.0.1"
    with pytest.raises(ForbiddenTarget, match=r"127\.0\.0\.2 is a loopback"):  # the list names one address only
        await targets.check("http://127.0.0.2:9000/h")
    with pytest.raises(ForbiddenTarget, match=r"10\.0\.0\.1 is a private"):
        await targets.check("http://10.0.0.1/h")


async def test_a_refused_delivery_never_connects_and_logs_our_reason_only():
    resolver = FakeResolver({"rebound.example.vn": ["127.0.0.1"]})
    webhook = Webhook(Targets(resolver=resolver))
    try:
        with pytest.raises(DeliveryError) as failed:
            await webhook.send("https://rebound.example.vn/h", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", b"{}", "d-1")
        assert str(failed.value) == "refused: rebound.example.vn does not resolve to a public address"
        with pytest.raises(DeliveryError, match=r"^refused: 169\.254\.169\.254 is a cloud metadata address$"):
            await webhook.send("https://169.254.169.254/latest/meta-data/", "s", b"{}", "d-2")
    finally:
        await webhook.close()
