"""The registry (core/registry.py) is the one list of services: what reads it agrees with it."""

from __future__ import annotations

import importlib
import re

import pytest

from titanium.core.registry import (
    DEFAULT_PORTS,
    REPLICA_PORT_STEP,
    SERVICES,
    check_base_port,
    parse_replicas,
    start_order,
)
from titanium.core.settings import SETTINGS_CLASSES


@pytest.mark.parametrize("entry", SERVICES, ids=lambda entry: entry.name)
def test_each_service_reads_the_address_of_exactly_the_services_it_calls(entry):
    fields = entry.settings_class().model_fields
    called = {match[1] for name in fields if (match := re.fullmatch(r"(\w+)_url", name)) and match[1] in DEFAULT_PORTS}
    assert called == set(entry.calls)
    assert (f"{entry.name}_database_url" in fields) is entry.database
    assert fields["port"].default == DEFAULT_PORTS[entry.name]


@pytest.mark.parametrize("entry", SERVICES, ids=lambda entry: entry.name)
def test_each_service_has_its_folder_and_app(entry):
    assert callable(importlib.import_module(entry.app_module).build)
    assert SETTINGS_CLASSES[entry.name] is entry.settings_class()


def test_ports_do_not_collide_even_with_replicas():
    offsets = [entry.port_offset for entry in SERVICES]
    assert len(set(offsets)) == len(offsets) and max(offsets) < REPLICA_PORT_STEP


def test_services_start_after_those_they_call():
    order = start_order()
    assert sorted(order) == sorted(DEFAULT_PORTS)
    for entry in SERVICES:
        one_way = [callee for callee in entry.calls if entry.name not in dict((e.name, e.calls) for e in SERVICES)[callee]]
        assert all(order.index(callee) < order.index(entry.name) for callee in one_way), entry.name


def test_a_base_port_that_puts_a_service_out_of_range_is_refused_with_the_range():
    check_base_port(8000)
    for base, replicas in ((70000, None), (80, None), (65531, None), (65500, {"blog": 8})):
        with pytest.raises(ValueError, match="give a base port from 1024 to"):
            check_base_port(base, replicas)


def test_replica_counts_name_services_of_the_registry():
    assert parse_replicas("blog=2, gateway=3") == {"blog": 2, "gateway": 3}
    with pytest.raises(ValueError, match="no service named 'blgo'"):
        parse_replicas("blgo=2")
