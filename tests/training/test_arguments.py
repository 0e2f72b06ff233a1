"""The command line: each flag declared once, as a field of its group's dataclass (`training.arguments`), and what
the parser built from them gives."""

import dataclasses

import pytest

import cldmdf.train_accelerate as train_accelerate
from cldmdf.training.arguments import ARGUMENT_GROUPS, ModelArguments, build_parser
from cldmdf.training.methods import MethodArguments
from cldmdf.training.model import MODEL_FLAGS, config_overrides
from modeling_cldmdf import CLDMDFConfig

FIELDS = [field for group in ARGUMENT_GROUPS for field in dataclasses.fields(group)]


def test_every_field_is_one_flag_of_its_group_with_its_default_and_help():
    parser = build_parser("description")
    groups = {group.title: group for group in parser._action_groups}
    for dataclass in ARGUMENT_GROUPS:
        actions = groups[dataclass._argument_group_name]._group_actions
        for field in dataclasses.fields(dataclass):
            (action,) = [action for action in actions if action.option_strings[0] == f"--{field.name}"]
            assert action.option_strings == [f"--{field.name}"]  # one spelling: abbreviations stay unambiguous
            assert action.dest == field.name and action.default == field.default
            assert action.help == field.metadata.get("help")
    declared = {f"--{field.name}" for field in FIELDS}
    assert set(parser._option_string_actions) - declared == {"-h", "--help", "--no_refit"}
    assert len(declared) == len(FIELDS)  # no flag twice


def test_the_defaults_parse_to_the_dataclasses_defaults_in_the_flags_order():
    parsed = vars(train_accelerate.parse_args([]))
    assert parsed.pop("command") == "python train_accelerate.py"
    defaults = {name: value for group in ARGUMENT_GROUPS for name, value in dataclasses.asdict(group()).items()}
    assert list(parsed.items()) == list(defaults.items())


def test_a_command_line_parses_into_the_dataclasses_and_one_namespace_alike():
    argv = ["--hidden_size", "32", "--cal", "--no_refit", "--streaming", "--seed", "3", "--predictions_format", "csv"]
    instances = build_parser("description").parse_args_into_dataclasses(argv)
    assert [type(instance) for instance in instances] == list(ARGUMENT_GROUPS)
    merged = {name: value for instance in instances for name, value in dataclasses.asdict(instance).items()}
    namespace = vars(train_accelerate.parse_args(argv))
    namespace.pop("command")
    assert merged == namespace
    assert (merged["hidden_size"], merged["cal"], merged["refit"], merged["streaming"]) == (32, True, False, True)


@pytest.mark.parametrize(
    "argv, expected",
    [
        ([], {"refit": None, "cal": None, "streaming": False}),
        (["--refit", "--cal", "--streaming"], {"refit": True, "cal": True, "streaming": True}),
        (["--refit", "--no_refit"], {"refit": False}),
        (["--no_refit", "--refit"], {"refit": True}),
        (["--aib", "0.5", "--report", "tensorboard"], {"aib_beta": 0.5, "report_to": "tensorboard"}),  # abbreviated
    ],
)
def test_switches_and_abbreviations(argv, expected):
    args = vars(train_accelerate.parse_args(argv))
    assert {name: args[name] for name in expected} == expected


@pytest.mark.parametrize(
    "argv", [["--fusion_mode", "max"], ["--hidden_size", "x"], ["--no_such_flag"], ["--refit", "x"]]
)
def test_bad_values_are_refused_by_the_parser(argv, capsys):
    with pytest.raises(SystemExit) as stop:
        train_accelerate.parse_args(argv)
    assert stop.value.code == 2 and "error:" in capsys.readouterr().err


def test_model_flags_are_the_model_fields_named_like_config_fields_and_set_them():
    config = CLDMDFConfig()
    fields = [field.name for field in dataclasses.fields(ModelArguments)]
    assert list(MODEL_FLAGS) == [name for name in fields if name in config.to_dict()]
    assert {field.name for field in dataclasses.fields(MethodArguments)}.isdisjoint(MODEL_FLAGS)
    assert all(isinstance(getattr(config, name), kind) for name, kind in MODEL_FLAGS.items())
    values = {"fusion_mode": "mean"} | {name: kind(2) for name, kind in MODEL_FLAGS.items() if kind is not str}
    argv = [item for name, value in values.items() for item in (f"--{name}", str(value))]
    assert config_overrides(train_accelerate.parse_args(argv)) == values


def test_help_lists_every_group_and_flag():
    text = build_parser("description").format_help()
    for dataclass in ARGUMENT_GROUPS:
        assert f"\n{dataclass._argument_group_name}:\n" in text
    for flag in [*(f"--{field.name}" for field in FIELDS), "--no_refit"]:
        assert f"{flag} " in text or f"{flag}\n" in text, flag
