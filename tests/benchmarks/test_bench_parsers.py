"""Request-parsing throughput of every installed parser adapter on the same byte streams.

One parser per benchmark, fed the stream again and again like a long keep-alive
connection: what is measured is the adapter turning bytes into asgibench events (heads,
body chunks, message ends), i.e. what the server core pays per request.
"""

from __future__ import annotations

import pytest

from asgibench import protocols
from asgibench.protocols.events import MessageEnd, ProtocolError

from .streams import STREAMS

PARSERS = protocols.available()


@pytest.mark.parametrize("stream", list(STREAMS))
@pytest.mark.parametrize("parser_name", PARSERS)
def test_parse(benchmark: pytest.FixtureDef, parser_name: str, stream: str) -> None:
    data, requests = STREAMS[stream]
    parser = protocols.get_backend(parser_name).parser_class()(65536)
    benchmark.group = f"parse {stream}"
    benchmark.extra_info.update(parser=parser_name, bytes=len(data), requests=requests)

    events = benchmark(parser.feed, data)

    assert not any(isinstance(e, ProtocolError) for e in events), events
    assert sum(1 for e in events if isinstance(e, MessageEnd)) == requests
