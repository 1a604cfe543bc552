"""The console against a hostile operator's input and an outside attacker: what a city's penetration test tries."""

from __future__ import annotations

import threading
import time

import httpx

from tests.console.conftest import ConsoleStack, csrf_of


def test_a_large_registry_file_does_not_stop_the_gateway_while_it_is_parsed(stack: ConsoleStack) -> None:
    """PyYAML (pure Python) needs seconds per MiB; the editor parsed on the event loop, so while one such
    file was read no gateway request was answered at all. The gateway must keep answering meanwhile."""
    http = stack.login("operator")
    csrf = csrf_of(http.get("/console/registry").text)
    text = "agencies: [" + ",".join(["1"] * 40_000) + "]\n"  # 80 KB, well within the limit: a second or two
    answer: dict[str, httpx.Response] = {}
    thread = threading.Thread(target=lambda: answer.update(r=http.post("/console/registry/preview",
                                                                       data={"yaml": text, "csrf": csrf})))
    thread.start()
    answered_meanwhile = 0
    with httpx.Client(base_url=stack.url, timeout=60) as probe:
        while thread.is_alive() and answered_meanwhile < 3:
            time.sleep(0.2)
            assert probe.get("/healthz").status_code == 200
            if thread.is_alive():  # answered while the preview was still being worked on
                answered_meanwhile += 1
    thread.join(60)
    assert answer["r"].status_code == 422 and "agencies[0]" in answer["r"].text  # a list of numbers: refused
    assert answered_meanwhile == 3  # the old code answered none until the parse ended
