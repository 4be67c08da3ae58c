"""bench.config: the option table and what is derived from it (axes, cell ids and labels, the hashed view, the
gathered columns, the grouping, the CLI's choices), and the value rules' one-line messages."""

from __future__ import annotations

import dataclasses
import re

import pytest

from bench import config
from bench.config import OPTIONS, RunConfig, hashed_view, make_cell_id, make_label
from bench.errors import ConfigError


def test_every_field_of_runconfig_is_a_row_of_the_table_with_a_rule_and_a_doc():
    assert list(OPTIONS) == [f.name for f in dataclasses.fields(RunConfig)]
    for name, option in OPTIONS.items():
        assert option.doc and option.rule.accepts(option.default), name  # the default passes its own rule
        assert option.place in (config.AXIS, config.BUDGET, config.SETTINGS, config.TOP, config.BENCH), name
        assert option.hashed in (config.ALWAYS, config.AT_NON_DEFAULT, config.NEVER), name


def test_the_derived_lists_are_the_ones_the_grid_files_results_and_older_runs_rely_on():
    assert config.AXES == ("dataset", "method", "sampling", "seed", "quirks", "backbone", "g_cond", "regularizer",
                           "augment", "method_options")
    # the gathered CSV's columns, in the order older CSVs have them
    assert [column for _, column in config.GATHERED] == ["dataset", "method", "sampling", "seed", "quirks", "scale",
                                                         "backbone", "g_cond", "regularizer", "augment", "options",
                                                         "bf16", "channels_last"]
    assert config.GROUP_COLUMNS == ("dataset", "method", "sampling", "quirks", "backbone", "g_cond", "regularizer",
                                    "augment", "options", "bf16", "channels_last")  # a group's cells differ in seed
    # what older runs were hashed with: runtime keys out, the newer keys out at their default
    assert set(config.RUNTIME_KEYS) == {"device", "data_root", "grid", "inception_weights", "tv_inception_weights",
                                        "dinov2_weights", "tensorboard"}
    assert config.HASH_OMITTED_AT_DEFAULT == {"compile": False, "nproc": 1, "g_cond": None, "bootstrap": 100,
                                              "regularizer": "none", "augment": "none", "eval_fakes": None,
                                              "final_fakes": None, "pretrain_images": None}
    assert set(config.BUDGET_KEYS) == {"image_size", "batch_size", "steps", "eval_every", "ckpt_every",
                                       "pretrain_epochs", "pretrain_images", "num_eval_samples", "max_per_class"}
    assert config.choices("sampling") == ["none", "balanced"] and config.choices("scale") == list(config.SCALES)
    # bench eval --set: how a checkpoint is measured, never what was trained
    assert config.EVALUATION_KEYS == ("extractor", "num_eval_samples", "eval_fakes", "final_fakes", "bootstrap",
                                      "inception_weights", "tv_inception_weights", "dinov2_weights")


def test_cell_ids_and_labels_come_from_each_axis_token_in_its_order():
    axes = {"dataset": "digits_lt", "method": "bagan", "sampling": "balanced", "seed": 2, "quirks": "fixed",
            "backbone": "dcgan64", "g_cond": "concat", "regularizer": "lecam", "augment": "diffaug",
            "method_options": {"lr_g": 3e-4, "pretrained": False}}
    assert make_cell_id(axes) == ("digits_lt-bagan-balanced-s2-dcgan64-g_concat-lr_g0.0003-pretrained_false-reg_lecam-"
                                  "aug_diffaug-quirks_fixed")
    assert make_cell_id(axes, default_backbone="dcgan64").startswith("digits_lt-bagan-balanced-s2-g_concat-")
    assert make_label(axes) == ("bagan · digits_lt · balanced sampling · dcgan64 · G concat · lr_g=0.0003 · "
                                "pretrained=false · lecam · diffaug · quirks fixed · seed 2")
    assert make_cell_id({"dataset": "digits_lt", "method": "ecogan"}) == "digits_lt-ecogan-none-s0"  # defaults


def test_the_hashed_view_leaves_out_runtime_keys_and_newer_keys_at_their_default_or_absent():
    values = RunConfig().to_dict()
    view = hashed_view(values)
    assert "device" not in view and "grid" not in view and "augment" not in view and "steps" in view
    older = {k: v for k, v in values.items() if k not in ("augment", "regularizer", "nproc")}  # an older config.json
    assert hashed_view(older) == view
    assert config.diff_configs(older, values) == []
    assert config.diff_configs(older, {**values, "augment": "diffaug"}) == ["augment: None -> 'diffaug'"]


@pytest.mark.parametrize(("values", "message"), [
    ({"bf16": "False"}, "bf16 must be true, false or auto, got 'False'"),
    ({"nproc": True}, "nproc must be a positive integer, got True"),
    ({"seed": -1}, "seed must be a non-negative integer, got -1"),
    ({"channels": True}, "channels must be 1 or 3, got True"),
    ({"sampling": "balancd"}, "sampling = 'balancd' is not one of none, balanced (did you mean 'balanced'?)"),
    ({"protocols": ["paperr"]}, "protocols = 'paperr' is not one of paper, standard, studiogan (did you mean "
                                "'paper'?)"),
    ({"protocols": []}, "protocols must be a non-empty list of 'paper' or 'standard' or 'studiogan', got []"),
    ({"eval_fakes": 0}, "eval_fakes must be a positive integer or null, got 0"),
    ({"num_eval_samples": 1}, "num_eval_samples must be an integer >= 2"),
    ({"g_cond": "concatt"}, "g_cond = 'concatt' is not one of scale, concat, cbn"),
    ({"batch_size": 6, "nproc": 4}, "batch_size 6 must split into nproc = 4 equal parts"),
])
def test_a_bad_value_is_one_line_naming_the_key(values, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        RunConfig(**values)
