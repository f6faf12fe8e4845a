"""Data a recipe generates itself (`data.synth`, `recipe_data.py`): the same bytes as the commands by
hand, overrides, reuse, and `calltune train --config configs/best.yaml` on the tiny GPT-2."""

import dataclasses
import hashlib
import json
import os

import pytest
import yaml

from calltune.cli import main
from calltune.config import config_from_dict, dump_config, load_config
from calltune.errors import CalltuneError
from calltune.recipe_data import prepare_data

BEST = os.path.join(os.path.dirname(__file__), "..", "configs", "best.yaml")
CAND2 = os.path.join(os.path.dirname(__file__), "..", "configs", "cand2.yaml")
# every kind of option off its default, so that a field the config passes on wrongly shows up
SYNTH = {"n": 240, "seed": 3, "rename_rate": 0.4, "shuffle_rate": 0.3, "distractor_rate": 0.6,
         "irrelevant_rate": 0.15, "text_answer_rate": 0.8, "optional_rate": 0.5, "parallel_rate": 0.1,
         "parallel_same_tool_rate": 0.4, "dialogue_rate": 0.1, "followup_rate": 0.5, "max_tools": 4,
         "procedural_rate": 0.3, "procedural_seed": 5, "procedural_split": "train", "mask_rate": 0.1,
         "description_style_rate": 0.2, "description_styles": ["terse", "openapi"], "near_miss_rate": 0.05,
         "near_miss_missing_rate": 0.6, "word_value_rate": 0.3, "composed_dialogue_rate": 0.5}
SPLIT = {"by": "tool", "dev_fraction": 0.15, "seed": 7}


def _flag_value(value) -> str:
    return ",".join(value) if isinstance(value, (list, tuple)) else str(value)


def test_generated_files_are_the_commands_by_hand_byte_for_byte(tmp_path):
    cfg = config_from_dict({"data": {"synth": SYNTH, "split": SPLIT, "train_size": 50, "dev_size": 10}})
    resolved, record = prepare_data(cfg, str(tmp_path / "run"))

    hand = tmp_path / "hand"
    hand.mkdir()
    flags = [arg for name, value in dataclasses.asdict(cfg.data.synth).items()
             if value is not None and value != () for arg in (f"--{name.replace('_', '-')}", _flag_value(value))]
    assert main(["data", "synth", *flags, "--out", str(hand / "synth.jsonl")]) == 0
    assert main(["data", "split", "--data", str(hand / "synth.jsonl"), "--train", str(hand / "all_train.jsonl"),
                 "--dev", str(hand / "all_dev.jsonl"), "--by", "tool", "--dev-fraction", "0.15", "--seed", "7"]) == 0
    for name, lines in (("train", 50), ("dev", 10)):  # head -n
        with open(hand / f"all_{name}.jsonl", "rb") as handle:
            (hand / f"{name}.jsonl").write_bytes(b"".join(handle.readlines()[:lines]))

    for name in ("synth", "train", "dev"):
        assert (tmp_path / "run" / "data" / f"{name}.jsonl").read_bytes() == (hand / f"{name}.jsonl").read_bytes(), name
    assert resolved.data.train == str(tmp_path / "run" / "data" / "train.jsonl")
    assert resolved.data.dev == str(tmp_path / "run" / "data" / "dev.jsonl")
    assert record["counts"]["train"] == 50 and record["counts"]["dev"] == 10


def test_overrides_reach_nested_fields_and_explicit_train_wins():
    cfg = load_config(BEST, ["data.synth.n=300", "data.synth.description_styles=[terse]", "data.split.seed=1"])
    assert (cfg.data.synth.n, cfg.data.synth.parallel_rate, cfg.data.synth.description_styles) == (300, 0.25, ("terse",))
    assert (cfg.data.split.by, cfg.data.split.seed, cfg.data.train, cfg.data.dev) == ("tool", 1, None, None)
    # the resolved config reloads to itself (tuples written as YAML lists)
    assert config_from_dict(yaml.safe_load(dump_config(cfg))) == cfg

    given = load_config(BEST, ["data.train=mine.jsonl"])  # a file given explicitly: nothing is generated
    assert (given.data.train, given.data.dev, given.data.synth, given.data.train_size) == \
        ("mine.jsonl", "seed:dev", None, None)
    assert load_config(BEST, ["data.dev=seed:dev"]).data.dev == "seed:dev"  # the generated train, this dev


def test_configs_without_generated_data_serialize_as_before():
    data = load_config(None).to_dict()["data"]
    assert list(data) == ["train", "dev", "prompt_style", "loss", "max_length", "overlong"]
    assert load_config(None, ["data.argument_order=schema"]).to_dict()["data"]["argument_order"] == "schema"


@pytest.mark.parametrize("override, message", [
    ("data.synth.n=0", "data.synth: --n must be a positive integer"),
    ("data.synth.colour=1", "data.synth: unknown key 'colour'"),
    ("data.split.by=size", "data.split.by: 'size'"),
    ("data.train_size=0", "data.train_size must be at least 1"),
    ("data.synth=5", "data.synth: expected a mapping or null"),
])
def test_bad_generation_settings_name_the_field(override, message):
    with pytest.raises(CalltuneError, match=message.replace(".", r"\.")):
        load_config(BEST, [override])


def test_sizes_without_synth_and_null_train_are_refused():
    with pytest.raises(CalltuneError, match="apply to generated data"):
        load_config(None, ["data.train_size=5"])
    with pytest.raises(CalltuneError, match="needs data.synth"):
        load_config(None, ["data.train=null"])


def test_generated_files_are_reused_unless_settings_or_bytes_changed(tmp_path, capsys):
    out = str(tmp_path / "run")
    cfg = load_config(BEST, ["data.synth.n=120", "data.train_size=20", "data.dev_size=5"])
    prepare_data(cfg, out)
    train = os.path.join(out, "data", "train.jsonl")
    before = os.stat(train).st_mtime_ns
    prepare_data(cfg, out)
    assert os.stat(train).st_mtime_ns == before and "reused" in capsys.readouterr().err

    with open(train, "a") as handle:
        handle.write("\n")  # damaged: generated again
    prepare_data(cfg, out)
    assert "generated" in capsys.readouterr().err
    _, record = prepare_data(load_config(BEST, ["data.synth.n=120", "data.train_size=10", "data.dev_size=5"]), out)
    assert record["counts"]["train"] == 10 and "generated" in capsys.readouterr().err


def test_train_with_best_yaml_generates_its_data_and_records_it(tiny_gpt2, tmp_path):
    out = str(tmp_path / "run")
    args = ["train", "--config", BEST, "--out", out, "--no-progress", f"model.name={tiny_gpt2}",
            "data.synth.n=60", "data.train_size=6", "data.dev_size=3", "data.max_length=1024",
            "train.max_steps=1", "lora.top_layers=null"]
    assert main(args) == 0
    with open(os.path.join(out, "run.json")) as handle:
        data = json.load(handle)["data"]
    assert data["train"] == os.path.join(out, "data", "train.jsonl")
    with open(data["train"], "rb") as handle:
        import hashlib

        assert data["train_sha256"] == hashlib.sha256(handle.read()).hexdigest() == data["generated"]["sha256"]["train"]
    # config.yaml is the recipe as given: loading it generates the same data again
    saved = load_config(os.path.join(out, "config.yaml"))
    assert saved.data.train is None and saved.data.synth.n == 60 and saved.data.train_size == 6
    assert main(args + ["--resume"]) == 0  # finished: says so, changes nothing


def _common_recipe(cfg, irrelevant_rate: float, train_size: int, procedural_rate: float = 0.5,
                   object_param_rate: float = 0.0, epochs: int = 1, parallel_list_rate: float = 0.0,
                   optional_contrast_rate: float = 0.0):
    """What cand2, cand17, cand27f, cand29, cand31, cand37, cand39 and cand40 share: the model, the prompt style,
    the loss, the data levers and the split."""
    assert (cfg.model.name, cfg.model.quantization, cfg.data.prompt_style, cfg.data.loss, cfg.data.max_length) == \
        ("embedded", "none", "hermes", "completion", 1536)
    synth = cfg.data.synth
    assert (synth.n, synth.seed, synth.parallel_rate, synth.parallel_max_calls, synth.dialogue_rate) == (5000, 0, 0.25, 4, 0.1)
    assert (synth.irrelevant_rate, synth.near_miss_rate, synth.procedural_rate, synth.procedural_split, synth.mask_rate,
            synth.description_style_rate, synth.session_rate, synth.object_param_rate, synth.parallel_list_rate,
            synth.optional_contrast_rate) == \
        (irrelevant_rate, 0.08, procedural_rate, "train", 0.1, 0.3, 0.0, object_param_rate, parallel_list_rate,
         optional_contrast_rate)
    assert (cfg.data.split.by, cfg.data.split.dev_fraction, cfg.data.split.seed, cfg.data.split.dedup) == \
        ("tool", 0.15, 11711, True)
    assert (cfg.data.train_size, cfg.data.dev_size, cfg.train.epochs, cfg.train.batch_size, cfg.train.warmup_ratio,
            cfg.eval.generate) == (train_size, 100, epochs, 4, 0.05, False)


def test_best_yaml_is_the_recipe_of_the_measured_model():
    """cand40 (since session 39): full fine-tuning of all 30 blocks, lr 2e-4, 1 epoch over 2,000 examples,
    irrelevant requests at 0.2, composed tools at 0.5, half of the eligible composed tools with an object-valued
    parameter, listed parallel requests at 0.8, optional contrasts at 1.0, batches without the padding mask
    (cand39, sessions 37 and 38, is the same without optional contrasts; cand37, sessions 35 and 36, is cand39
    with 1,000 examples seen twice; cand35 and cand31 are cand37 without listed requests; cand29 is cand31
    with irrelevant requests at 0.12; cand27f is cand29 in 1 epoch; cand17 is cand27f without object-valued
    parameters; cand23 is cand17 with composed tools at 0.8; cand9 is cand17 with 600 examples and the mask)."""
    cfg = load_config(BEST)
    _common_recipe(cfg, 0.2, 2000, object_param_rate=0.5, parallel_list_rate=0.8, optional_contrast_rate=1.0)
    cand39 = ["data.synth.optional_contrast_rate=0"]
    _common_recipe(load_config(BEST, cand39), 0.2, 2000, object_param_rate=0.5, parallel_list_rate=0.8)
    cand37 = cand39 + ["data.train_size=1000", "train.epochs=2"]
    _common_recipe(load_config(BEST, cand37), 0.2, 1000, object_param_rate=0.5, epochs=2, parallel_list_rate=0.8)
    cand35 = cand37 + ["data.synth.parallel_list_rate=0"]
    _common_recipe(load_config(BEST, cand35), 0.2, 1000, object_param_rate=0.5, epochs=2)
    cand29 = cand35 + ["data.synth.irrelevant_rate=0.12"]
    _common_recipe(load_config(BEST, cand29), 0.12, 1000, object_param_rate=0.5, epochs=2)
    _common_recipe(load_config(BEST, cand29 + ["train.epochs=1"]), 0.12, 1000, object_param_rate=0.5)  # cand27f
    _common_recipe(load_config(BEST, cand29 + ["train.epochs=1", "data.synth.object_param_rate=0"]), 0.12,
                   1000)  # cand17
    assert (cfg.train.method, cfg.train.lr, cfg.lora.top_layers, cfg.train.pad_mask) == ("full", 2e-4, None, False)


def test_cand2_yaml_is_the_recipe_of_the_builtin_adapter():
    cfg = load_config(CAND2)
    _common_recipe(cfg, 0.08, 600)
    assert (cfg.train.method, cfg.train.lr, cfg.lora.r, cfg.lora.alpha, cfg.lora.top_layers, cfg.lora.targets) == \
        ("lora", 5e-4, 16, 32, 15, "all-linear")


def _head_sha256(path: str, lines: int) -> str:
    """sha256 of a file's first `lines` lines: the training file of `data.train_size=lines` on the same split."""
    with open(path, "rb") as handle:
        return hashlib.sha256(b"".join(handle.readlines()[:lines])).hexdigest()


@pytest.mark.slow
def test_the_recipes_generate_the_training_files_of_the_measured_runs(tmp_path):
    """The README's issue-14 figures come from runs trained on files with these hashes (their run.json,
    data.train_sha256); the configs must keep generating exactly those files."""
    # best.yaml since session 39: cand40, optional contrasts at 1.0
    _, record = prepare_data(load_config(BEST), str(tmp_path / "cand40"), quiet=True)
    assert record["sha256"]["train"] == "95f191845bd2c119381a90cda29c812bae747ad95c72d60318834521fc3aba98"  # cand40
    # best.yaml in sessions 37 and 38: cand39, 2,000 examples seen once; its first 1,000 lines are cand37's file
    # (best.yaml in sessions 35 and 36: listed parallel requests at 0.8, 1,000 examples seen twice)
    cand39 = ["data.synth.optional_contrast_rate=0"]
    cfg, record = prepare_data(load_config(BEST, cand39), str(tmp_path / "cand39"), quiet=True)
    assert record["sha256"]["train"] == "4711dfb9735257c1515757268522a6878e7964059ff4132e51597e1ea6b2474e"  # cand39
    assert _head_sha256(cfg.data.train, 1000) == \
        "e3e69b8651d6483500d6a704aa67e454537098de88edf2d7e1ade78bef111fdc"  # cand37
    # best.yaml in session 34, with composed addresses that have a street (before it, a letter of the field's
    # name): cand35. cand31 (best.yaml in sessions 32 and 33; training file 2ff75f28...) and cand29/cand27f
    # (b5bf8077...) were generated by the code before that fix (83584a7 and earlier), which alone regenerates them.
    cand35 = cand39 + ["data.train_size=1000", "data.synth.parallel_list_rate=0"]
    _, record = prepare_data(load_config(BEST, cand35), str(tmp_path / "cand35"), quiet=True)
    assert record["sha256"]["train"] == "cd7b6dbf5cd91f57680323ffc9b514b4702ec46ffe0f73a1afd83e0fe0138d3d"  # cand35
    cand29 = cand35 + ["data.synth.irrelevant_rate=0.12"]
    _, record = prepare_data(load_config(BEST, cand29), str(tmp_path / "cand29"), quiet=True)
    assert record["sha256"]["train"] == "549cd4eb04dcb967cfe3c85c8f77bd03a7bff1b98905df742b79ec0fe42c8ccb"  # cand29 now
    # cand23 (best.yaml in sessions 25 to 27) is cand17 with composed tools at 0.8
    cand23 = load_config(BEST, cand29 + ["data.synth.procedural_rate=0.8", "data.synth.object_param_rate=0"])
    _, record = prepare_data(cand23, str(tmp_path / "cand23"), quiet=True)
    assert record["sha256"]["train"] == "3216d06071013d6185c29de472db1ed5a016f2288718b5c06287451638ef8efe"  # cand23
    # cand17: best.yaml from session 20 to 24 and in sessions 28 and 29; since session 32 best.yaml with
    # irrelevant requests at 0.12 and without object-valued parameters
    cfg, record = prepare_data(load_config(BEST, cand29 + ["data.synth.object_param_rate=0"]), str(tmp_path / "best"),
                               quiet=True)
    assert record["sha256"]["train"] == "6d7f0e551847e6ed6d7f86306eec14a2173b4582bbac624d52825ca808799bfe"  # cand17
    # cand9 (best.yaml from session 13 to 19) trained on the first 600 of cand17's split
    assert _head_sha256(cfg.data.train, 600) == "0945fff4db6c090a908f963f14eb2c993445b433679525c0d68d190bf4e6100e"
    cfg, record = prepare_data(load_config(CAND2), str(tmp_path / "run"), quiet=True)
    assert record["sha256"]["train"] == "dbecea0af8e344ecae5e13aaee6798d8ceec67a45baa1704c40cc2f9f55be7b3"  # cand2, the builtin adapter
    # cand1 (the builtin adapter until session 8) trained on the first 500 of the same split
    assert _head_sha256(cfg.data.train, 500) == "8803c43bb4138453d7ef4d375b6a50446597c6dae279b9e01140298152ff20d2"


def test_show_example_renders_from_the_generated_split(tiny_gpt2, tmp_path, capsys):
    out = str(tmp_path / "run")
    assert main(["train", "--config", BEST, "--out", out, f"model.name={tiny_gpt2}", "data.synth.n=60",
                 "data.train_size=6", "--show-example", "0"]) == 0
    assert "[[" in capsys.readouterr().out and os.path.exists(os.path.join(out, "data", "train.jsonl"))
