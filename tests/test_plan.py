"""bench.plan: a cell resolved and checked once (the resolution order, the fair budget, the construction rules, the
hash), and carried unchanged: the JSON round trip, the worker and the method build resolve nothing again."""

from __future__ import annotations

import hashlib
import json

import pytest

from bench.config import hashed_view
from bench.errors import ConfigError
from bench.methods import get_method
from bench.methods.base import Method
from bench.methods.hyper import to_json
from bench.plan import RunPlan, make_plan


def test_the_method_hyper_is_resolved_once_per_plan(monkeypatch):
    calls = []
    resolve = Method.resolve_hyper.__func__
    monkeypatch.setattr(Method, "resolve_hyper", classmethod(lambda cls, *a, **k: calls.append(cls.name)
                                                              or resolve(cls, *a, **k)))
    plan = make_plan({"dataset": "digits_lt", "method": "ecogan", "method_options": {"n_dis": 2}}, scale="cpu")
    assert calls == ["ecogan"]
    assert plan.n_dis == 2 and plan.budget.steps == 750 and plan.budget.d_updates == 1500  # 1,500 D updates


def test_nothing_is_resolved_again_from_the_json_nor_when_the_method_is_built(monkeypatch):
    plan = make_plan({"dataset": "digits_lt", "method": "reacgan", "g_cond": "concat",
                      "method_options": {"n_dis": 2}}, scale="smoke")
    saved = json.loads(json.dumps(plan.to_json()))  # as config.json and the worker's spec hold it

    def refuse(*_args, **_kwargs):
        raise AssertionError("resolved again")

    monkeypatch.setattr(Method, "resolve_hyper", classmethod(refuse))
    monkeypatch.setattr("bench.plan.make_plan", refuse)
    again = RunPlan.from_json(saved)
    assert again == plan  # the same options, Hyper, backbone, g_cond, budget and hash
    data = {"num_classes": 10, "channels": 1, "image_size": 16, "class_counts": [5] * 10}
    method = again.method_class()(again.method_config(data), "cpu")
    assert method.hp == plan.hyper and method.n_dis == 2


def test_the_hash_is_the_hashed_options_and_the_resolved_hyper():
    plan = make_plan({"dataset": "digits_lt", "method": "ebgan"}, scale="smoke")
    blob = json.dumps(hashed_view(plan.config.to_dict()) | {"hyper": to_json(plan.hyper)}, sort_keys=True,
                      separators=(",", ":"))
    assert plan.hash == hashlib.sha256(blob.encode()).hexdigest()[:16]


def test_resolution_order_preset_settings_axis_and_set():
    def backbone(**kwargs):
        return make_plan({"dataset": "digits_lt", "method": "ecogan", **kwargs.pop("cell", {})}, **kwargs).backbone

    assert backbone(scale="smoke") == "tiny"  # the preset's network
    assert backbone(scale="paper") == "dcgan64"  # the method's default
    assert backbone(scale="smoke", settings={"backbone": "dcgan64"}) == "tiny"  # the preset replaces [settings]'
    assert backbone(scale="smoke", cell={"backbone": "dcgan64"}) == "dcgan64"  # the cell's own wins
    assert backbone(scale="smoke", overrides={"backbone": "dcgan64"}) == "dcgan64"  # --set wins
    plan = make_plan({"dataset": "digits_lt", "method": "ecogan", "steps": 7}, scale="smoke")
    assert plan.budget.steps == 7  # a named steps keeps its value: no fair budget


@pytest.mark.parametrize(("cell", "message"), [
    ({"method": "bagan", "g_cond": "cbn"}, "bagan's G takes the class through its latent class Gaussians"),
    ({"method": "bagan", "regularizer": "lecam"}, "bagan's D has none"),
    ({"method": "ecogan", "backbone": "biggan32", "g_cond": "concat", "image_size": 32},
     "unknown g_cond for backbone 'biggan32' 'concat'"),
    ({"method": "ebgan", "backbone": "biggan32", "image_size": 32}, "backbone 'biggan32' has no autoencoder encoder"),
    ({"method": "ecogan", "backbone": "biggan32"}, "backbone 'biggan32' does not support image_size 16"),
    ({"method": "ecogan", "method_options": {"div": 2}}, "option div = 2 applies to backbone 'biggan32' only"),
    ({"method": "ecogan", "method_options": {"lr_gg": 1}}, "method 'ecogan' has no option 'lr_gg'"),
    ({"method": "ecogann"}, "unknown method 'ecogann'"),
    ({"method": "ecogan", "extractor": "clasifier"}, "extractor: unknown"),
])
def test_the_plan_refuses_what_a_build_would_refuse_before_any_data_are_loaded(cell, message):
    with pytest.raises(ConfigError, match=message):
        make_plan({"dataset": "digits_lt", **cell}, scale="smoke")


def test_a_plan_from_an_older_config_json_is_resolved_once_as_it_was():
    plan = make_plan({"dataset": "digits_lt", "method": "ecogan"}, scale="smoke")
    older = {"config": plan.config.to_dict(), "hash": "0123456789abcdef"}  # no hyper, no recipe
    again = RunPlan.from_json(older)
    assert again.hyper == plan.hyper and again.backbone == "tiny" and again.hash == "0123456789abcdef"
    assert get_method(again.method).name == "ecogan"
