import socket

from ports import ephemeral_range, free_port


def test_a_free_port_is_outside_the_range_client_connections_are_given():
    low, high = ephemeral_range()
    ports = [free_port() for _ in range(20)]
    assert all(not low <= port <= high for port in ports)
    assert len(set(ports)) == 20  # never handed out twice in one process


def test_a_free_port_can_be_bound():
    port = free_port()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))
