"""SocketSet: an owner collected without close() has its sockets and context released."""

import gc

import zmq

from qs_gui.client.subscriber import Subscriber
from qs_gui.client.transport import ZMQTransport
from qs_gui.client.zmq_sockets import SocketSet


class Owner:
    pass


def test_collecting_the_owner_closes_sockets_then_context():
    owner = Owner()
    owner.me = owner  # freed by the collector, as an unclosed client in a cycle would be
    sockets = SocketSet(owner)
    sock = sockets.socket(zmq.REQ)
    assert sock.getsockopt(zmq.LINGER) == 0
    ctx = sockets.ctx
    del owner
    gc.collect()
    assert sock.closed and ctx.closed and sockets.ctx is None


def test_close_is_once_and_discard_closes_one():
    sockets = SocketSet(Owner())  # the owner is gone at once: released already
    assert sockets.ctx is None
    owner = Owner()
    sockets = SocketSet(owner)
    first, second = sockets.socket(zmq.SUB), sockets.socket(zmq.SUB)
    sockets.discard(first)
    assert first.closed and not second.closed
    sockets.close()
    sockets.close()
    assert second.closed and sockets.ctx is None


def test_transport_and_subscriber_register_their_sockets():
    transport = ZMQTransport("tcp://127.0.0.1:9")
    sock = transport._open_socket()
    subscriber = Subscriber("tcp://127.0.0.1:9", subscriptions=[b""], rcvhwm=10, max_bytes=10)
    sub_sock = subscriber._ensure_socket()
    assert sock in transport._zmq.sockets and sub_sock in subscriber._zmq.sockets
    del transport, subscriber
    gc.collect()
    assert sock.closed and sub_sock.closed
