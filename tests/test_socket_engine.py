"""The worker runs socket completions on .NET's epoll threads (Worker/SocketEngine.cs), and
the switch that turns it on stays out of the app's environment."""

import os

import pytest
import requests


def test_completions_run_on_one_event_thread_per_core_and_the_app_never_sees_the_switch(serve):
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("one core: one event thread either way")
    server = serve("socket_engine:app", "-w", "2")
    for _ in range(4):  # any worker
        report = requests.get(server.url("/")).json()
        # Queued to the thread pool, .NET runs one epoll thread for up to 30 cores.
        assert report["event_threads"] == len(os.sched_getaffinity(0)), report
        assert report["variable"] is None, report


def test_an_explicit_value_in_the_environment_is_kept(serve):
    server = serve("socket_engine:app", env={"DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS": "0"})
    report = requests.get(server.url("/")).json()
    assert report == {"variable": "0", "event_threads": 1}
