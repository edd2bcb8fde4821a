"""Tests of the configuration: defaults, validation messages, YAML files, presets and parameter specs."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from sim.errors import ConfigError
from sim.experiments.topomap.config import (
    ModelConfig,
    ParamSpec,
    config_from_dict,
    iter_params,
    load_config,
    param_spec,
)
from sim.experiments.topomap.params import attempts_per_call

SOURCE = "presets/x.yaml"
BASE_PRESETS = ("bamford2010", "bogdan2018", "knight2025")
#: Each case variant and the one key (with its value) in which it differs from its base preset.
VARIANTS = {
    "stdp_only": ("rewiring.enabled", False),
    "uncorrelated": ("stimulus.input", "uncorrelated"),
    "lateral_inhibition": ("connectivity.lat_inhibitory", True),
}


def values(cfg: ModelConfig) -> dict[str, Any]:
    """``{path: value}`` of every declared parameter."""
    return {path: value for path, _spec, value in iter_params(cfg)}


def raises_config_error(data: Any, *fragments: str) -> ConfigError:
    """Assert that ``config_from_dict(data)`` raises a ConfigError whose message holds every fragment."""
    with pytest.raises(ConfigError) as info:
        config_from_dict(data, source=SOURCE)
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    return info.value


# --------------------------------------------------------------------------- defaults


def test_defaults_match_model_md() -> None:
    """The defaults are MODEL.md's values (Bamford's model)."""
    c = ModelConfig()
    assert (c.network.scale, c.network.dt) == (1, 0.1)
    assert c.side == 16 and c.n_neurons == 256
    s = c.stimulus
    assert (s.input, s.period, s.f_base, s.f_peak, s.sigma, s.flat_rate) == (
        "correlated",
        20.0,
        5.0,
        152.8,
        2.0,
        20.0,
    )
    n = c.neuron
    assert (n.tau_m, n.v_rest, n.v_reset, n.v_thresh) == (20.0, -70.0, -70.0, -54.0)
    assert (n.e_ex, n.e_inh, n.tau_syn) == (0.0, -80.0, 5.0)
    assert (n.v_init_mean, n.v_init_sd) == (-60.0, 5.0)
    p = c.stdp
    assert (p.enabled, p.a_plus, p.a_minus, p.tau_plus, p.tau_minus, p.g_max) == (
        True,
        0.02,
        0.0075,
        20.0,
        64.0,
        0.2,
    )
    assert p.traces == "all_to_all"
    # B = A_minus tau_minus / (A_plus tau_plus) = 1.2 (Bamford's relative values).
    assert math.isclose(p.a_minus * p.tau_minus / (p.a_plus * p.tau_plus), 1.2)
    r = c.rewiring
    assert (r.enabled, r.scheme, r.s_max, r.rate, r.partner) == (True, "slot", 32, 10000.0, "random")
    assert (r.ff.p_form, r.ff.sigma_form) == (0.16, 2.5)
    assert (r.lat.p_form, r.lat.sigma_form) == (1.0, 1.0)
    for proj in (r.ff, r.lat):
        assert (proj.p_elim_dep, proj.p_elim_pot) == (0.0245, 1.3611e-4)
    k = c.connectivity
    assert (k.wiring, k.ff_fan_in, k.lat_fan_in, k.lat_inhibitory) == ("fixed_fan_in", 16, 16, False)


def test_mean_stimulus_rate_is_20_hz() -> None:
    """f_peak 152.8 Hz with f_base 5 Hz and sigma 2 gives a mean rate of 20 Hz on a 16 x 16 torus."""
    s = ModelConfig().stimulus
    d = [min(k, 16 - k) for k in range(16)]
    total = sum(
        s.f_base + s.f_peak * math.exp(-(dx * dx + dy * dy) / (2 * s.sigma**2)) for dx in d for dy in d
    )
    assert total / 256 == pytest.approx(20.0, abs=0.01)


def test_empty_dict_gives_defaults() -> None:
    """``config_from_dict({})`` is the default configuration."""
    assert config_from_dict({}) == ModelConfig()


# --------------------------------------------------------------------------- leaf validation


def test_documented_message_format() -> None:
    """The message is exactly ``file: key.path: reason`` (ARCHITECTURE.md's example)."""
    err = raises_config_error({"rewiring": {"ff": {"p_form": 1.6}}})
    assert str(err) == "presets/x.yaml: rewiring.ff.p_form: must be in [0, 1], got 1.6"
    assert err.source == SOURCE
    assert err.path == "rewiring.ff.p_form"
    assert isinstance(err, ValueError)


@pytest.mark.parametrize(
    ("data", "path", "reason"),
    [
        ({"rewiring": {"ff": {"p_fom": 0.1}}}, "rewiring.ff.p_fom", "unknown key"),
        ({"nework": {"dt": 0.1}}, "nework", "unknown key"),
        ({"neuron": {"tau_m": True}}, "neuron.tau_m", "must be a number"),
        ({"neuron": {"tau_m": "20"}}, "neuron.tau_m", "must be a number"),
        ({"network": {"scale": None}}, "network.scale", "must be a number"),
        ({"stimulus": {"input": 3}}, "stimulus.input", "must be a string"),
        ({"stdp": {"traces": 1.5}}, "stdp.traces", "must be a string"),
        ({"stdp": {"enabled": 1}}, "stdp.enabled", "must be true or false"),
        ({"stimulus": {"tiled": "yes"}}, "stimulus.tiled", "must be true or false"),
        ({"network": {"scale": 1.5}}, "network.scale", "whole number"),
        ({"neuron": {"tau_m": float("nan")}}, "neuron.tau_m", "finite"),
        ({"neuron": {"tau_m": float("inf")}}, "neuron.tau_m", "finite"),
        ({"network": {"dt": 0}}, "network.dt", "must be in (0, 10]"),
        ({"network": {"dt": -0.1}}, "network.dt", "must be in (0, 10]"),
        ({"network": {"scale": 0}}, "network.scale", "must be in [1, 64]"),
        ({"stimulus": {"f_peak": 1000.5}}, "stimulus.f_peak", "must be in [0, 1000]"),
        ({"rewiring": {"lat": {"p_elim_dep": -0.1}}}, "rewiring.lat.p_elim_dep", "must be in [0, 100]"),
        ({"run": {"seed": -1}}, "run.seed", "must be in"),
        ({"run": {"seed": 2**64}}, "run.seed", "must be in"),
        ({"rewiring": {"scheme": "ring"}}, "rewiring.scheme", "must be one of 'slot', 'pair'"),
        ({"stimulus": {"input": "Correlated"}}, "stimulus.input", "one of"),
        ({"connectivity": {"wiring": "all"}}, "connectivity.wiring", "one of"),
        ({"neuron": 5}, "neuron", "must be a mapping"),
        ({"rewiring": {"ff": [0.1]}}, "rewiring.ff", "must be a mapping"),
        ({"name": 3}, "name", "must be a string"),
    ],
)
def test_bad_values_name_file_and_key_path(data: dict[str, Any], path: str, reason: str) -> None:
    """Unknown keys, wrong types, out-of-range values and bad choices name the file and dotted key path."""
    err = raises_config_error(data, SOURCE, reason)
    assert str(err).startswith(f"{SOURCE}: {path}: ")
    assert err.path == path


def test_top_level_must_be_a_mapping() -> None:
    """A top level that is not a mapping is refused, naming the source."""
    raises_config_error([1, 2], SOURCE, "mapping")


def test_numbers_are_converted() -> None:
    """Integers are accepted for floats and integral floats for integers."""
    c = config_from_dict({"neuron": {"tau_m": 10}, "network": {"scale": 2.0}})
    assert c.neuron.tau_m == 10.0 and isinstance(c.neuron.tau_m, float)
    assert c.network.scale == 2 and isinstance(c.network.scale, int)


def test_open_and_closed_bounds() -> None:
    """Closed bounds include their end points; open ones exclude them."""
    assert config_from_dict({"rewiring": {"ff": {"p_form": 1.0}}}).rewiring.ff.p_form == 1.0
    assert config_from_dict({"rewiring": {"ff": {"p_form": 0.0}}}).rewiring.ff.p_form == 0.0
    assert config_from_dict({"network": {"dt": 10.0}, "rewiring": {"interval": 10.0}}).network.dt == 10.0
    raises_config_error({"neuron": {"tau_syn": 0.0}}, "neuron.tau_syn", "(0, 10000]")


def test_partial_section_keeps_other_defaults() -> None:
    """A section given in part keeps the defaults of its other keys (including LAT's own defaults)."""
    c = config_from_dict({"rewiring": {"lat": {"p_elim_pot": 0.5}}, "stdp": {"a_plus": 0.01}})
    assert c.rewiring.lat.p_elim_pot == 0.5
    assert (c.rewiring.lat.p_form, c.rewiring.lat.sigma_form) == (1.0, 1.0)
    assert c.stdp.a_plus == 0.01 and c.stdp.a_minus == 0.0075


# --------------------------------------------------------------------------- cross-field validation


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({"neuron": {"v_reset": -54.0}}, "neuron.v_reset"),
        ({"neuron": {"v_reset": -50.0}}, "neuron.v_reset"),
        ({"connectivity": {"ff_fan_in": 20, "lat_fan_in": 16}}, "connectivity.ff_fan_in"),
        ({"rewiring": {"s_max": 16}}, "connectivity.ff_fan_in"),
        ({"connectivity": {"wiring": "pairwise_bernoulli"}}, "connectivity.wiring"),
        ({"connectivity": {"col_capacity": 31}}, "connectivity.col_capacity"),
        ({"rewiring": {"scheme": "pair"}, "connectivity": {"col_capacity": 8}}, "connectivity.ff_fan_in"),
        ({"stimulus": {"period": 0.05}}, "stimulus.period"),
        ({"network": {"dt": 1.0}}, "rewiring.interval"),
        ({"run": {"record_interval": 1e-5}}, "run.record_interval"),
    ],
)
def test_cross_field_validation(data: dict[str, Any], path: str) -> None:
    """Constraints between fields (v_reset < v_thresh, fan-in within s_max, ...) name the offending key."""
    err = raises_config_error(data, SOURCE)
    assert err.path == path


def test_slot_fan_in_exactly_s_max_is_valid() -> None:
    """ff_fan_in + lat_fan_in == s_max is allowed (the bound is inclusive)."""
    c = config_from_dict({"connectivity": {"ff_fan_in": 20, "lat_fan_in": 12}})
    assert c.connectivity.ff_fan_in + c.connectivity.lat_fan_in == c.rewiring.s_max


# --------------------------------------------------------------------------- replace, get, specs


def test_replace_validates_and_copies() -> None:
    """``replace`` returns a validated copy and leaves the original unchanged."""
    c = ModelConfig()
    d = c.replace("rewiring.ff.p_form", 0.5)
    assert d.rewiring.ff.p_form == 0.5
    assert c.rewiring.ff.p_form == 0.16
    assert d.rewiring.lat == c.rewiring.lat
    with pytest.raises(ConfigError, match=r"rewiring\.ff\.p_form: must be in \[0, 1\], got 1.6"):
        c.replace("rewiring.ff.p_form", 1.6)
    with pytest.raises(ConfigError, match="v_reset"):
        c.replace("neuron.v_reset", -40.0)
    with pytest.raises(ConfigError, match="unknown parameter"):
        c.replace("rewiring.ff.nope", 1)
    with pytest.raises(ConfigError, match="unknown parameter"):
        c.replace("rewiring.ff", 1)
    with pytest.raises(ConfigError, match="unknown parameter"):
        c.replace("nope.dt", 1)


def test_replace_names_source() -> None:
    """A ``source`` given to ``replace`` appears in the message."""
    with pytest.raises(ConfigError, match=r"^gui: stdp\.g_max: "):
        ModelConfig().replace("stdp.g_max", 0.0, source="gui")


def test_get() -> None:
    """``get`` reads dotted paths and refuses unknown ones."""
    c = ModelConfig()
    assert c.get("rewiring.ff.p_form") == 0.16
    assert c.get("network.dt") == 0.1
    with pytest.raises(ConfigError):
        c.get("rewiring.ff.p_fom")
    with pytest.raises(ConfigError):
        c.get("network.dt.x")


def _leaf_paths(d: dict[str, Any], prefix: str = "") -> set[str]:
    out: set[str] = set()
    for key, value in d.items():
        path = f"{prefix}.{key}" if prefix else key
        out |= _leaf_paths(value, path) if isinstance(value, dict) else {path}
    return out


def test_iter_params_covers_every_leaf_with_doc_and_live_flag() -> None:
    """Every leaf of the configuration (but name and description) has a spec with a doc and a live flag."""
    specs = list(iter_params())
    paths = [p for p, _, _ in specs]
    assert len(paths) == len(set(paths))
    assert set(paths) == _leaf_paths(ModelConfig().to_dict()) - {"name", "description"}
    for path, spec, value in specs:
        assert isinstance(spec, ParamSpec)
        assert isinstance(spec.doc, str) and spec.doc.strip(), path
        assert isinstance(spec.live, bool), path
        assert value == ModelConfig().get(path)
        if spec.choices is not None:
            assert value in spec.choices, path
        elif not isinstance(value, bool):
            assert spec.lo is None or value >= spec.lo, path
            assert spec.hi is None or value <= spec.hi, path


def test_structural_and_live_parameters() -> None:
    """Grid size, dt, capacities, wiring and scheme are structural; rates and probabilities are live."""
    for path in (
        "network.scale",
        "network.dt",
        "rewiring.scheme",
        "rewiring.s_max",
        "connectivity.row_capacity",
        "connectivity.col_capacity",
        "connectivity.wiring",
        "connectivity.lat_inhibitory",
    ):
        assert param_spec(path).live is False, path
    for path in (
        "stimulus.f_peak",
        "stimulus.input",
        "rewiring.ff.p_form",
        "rewiring.rate",
        "stdp.enabled",
        "stdp.a_plus",
        "neuron.tau_m",
    ):
        assert param_spec(path).live is True, path
    with pytest.raises(ConfigError):
        param_spec("network.nope")


def test_range_text() -> None:
    """Ranges print with the right brackets."""
    assert param_spec("network.dt").range_text() == "(0, 10]"
    assert param_spec("rewiring.ff.p_form").range_text() == "[0, 1]"
    assert param_spec("rewiring.scheme").range_text() == "one of 'slot', 'pair'"
    assert ParamSpec("", "x", True).range_text() == "(-inf, inf)"


def test_yaml_round_trip() -> None:
    """``to_yaml`` reads back to an equal configuration."""
    c = ModelConfig().replace("rewiring.lat.p_elim_pot", 0.25).replace("stimulus.tiled", True)
    assert config_from_dict(yaml.safe_load(c.to_yaml())) == c


def test_config_is_frozen() -> None:
    """Configurations are immutable."""
    c = ModelConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.network.dt = 1.0  # type: ignore[misc]


# --------------------------------------------------------------------------- YAML files


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_file_errors_name_the_file_and_key(tmp_path: Path) -> None:
    """A bad value in a file names the file and the key path."""
    f = write(tmp_path / "bad.yaml", "rewiring:\n  ff:\n    p_form: 1.6\n")
    with pytest.raises(ConfigError) as info:
        load_config(f)
    assert str(info.value) == f"{f}: rewiring.ff.p_form: must be in [0, 1], got 1.6"


def test_malformed_yaml_names_file_and_line(tmp_path: Path) -> None:
    """A YAML syntax error names the file and the line."""
    f = write(tmp_path / "broken.yaml", "network:\n  scale: 1\n  dt: [0.1\nneuron:\n  tau_m: 3\n")
    with pytest.raises(ConfigError) as info:
        load_config(f)
    msg = str(info.value)
    assert msg.startswith(str(f))
    assert "malformed YAML" in msg
    assert "line 4" in msg


def test_tab_indentation_names_line(tmp_path: Path) -> None:
    """A tab used for indentation is a syntax error at line 2."""
    f = write(tmp_path / "tab.yaml", "network:\n\tdt: 1\n")
    with pytest.raises(ConfigError, match=r"tab\.yaml: malformed YAML: line 2"):
        load_config(f)


@pytest.mark.parametrize("text", ["- a\n- b\n", "just a string\n", "42\n"])
def test_top_level_not_a_mapping(tmp_path: Path, text: str) -> None:
    """A file whose top level is a list or scalar is refused, naming the file."""
    f = write(tmp_path / "top.yaml", text)
    with pytest.raises(ConfigError, match=r"top\.yaml: must contain a mapping"):
        load_config(f)


def test_missing_file(tmp_path: Path) -> None:
    """A missing file names the file."""
    with pytest.raises(ConfigError, match=r"absent\.yaml: file not found"):
        load_config(tmp_path / "absent.yaml")


def test_empty_file_is_defaults_named_after_file(tmp_path: Path) -> None:
    """An empty file gives the defaults, named after the file."""
    c = load_config(write(tmp_path / "empty.yaml", ""))
    assert c.name == "empty"
    assert values(c) == values(ModelConfig())


def test_extends_chain_merges_deeply(tmp_path: Path) -> None:
    """grandchild -> child -> base: later files override single keys, the rest is inherited."""
    write(tmp_path / "base.yaml", "neuron:\n  tau_m: 10.0\n  tau_syn: 3.0\nrewiring:\n  ff: {p_form: 0.5}\n")
    write(
        tmp_path / "child.yaml", "extends: base\nneuron:\n  tau_m: 12.0\nrewiring:\n  ff: {sigma_form: 3.0}\n"
    )
    sub = tmp_path / "sub"
    sub.mkdir()
    f = write(sub / "grand.yaml", "extends: ../child.yaml\nstdp:\n  a_plus: 0.01\n")
    c = load_config(f)
    assert c.name == "grand"
    assert c.neuron.tau_m == 12.0
    assert c.neuron.tau_syn == 3.0
    assert (c.rewiring.ff.p_form, c.rewiring.ff.sigma_form) == (0.5, 3.0)
    assert c.stdp.a_plus == 0.01


def test_extends_error_in_parent_names_child(tmp_path: Path) -> None:
    """A bad value inherited from a parent is still reported with its key path."""
    write(tmp_path / "base.yaml", "neuron:\n  tau_m: -1\n")
    f = write(tmp_path / "child.yaml", "extends: base\n")
    with pytest.raises(ConfigError, match=r"neuron\.tau_m: must be in"):
        load_config(f)


def test_extends_cycle(tmp_path: Path) -> None:
    """a -> b -> a is reported as a cycle."""
    write(tmp_path / "a.yaml", "extends: b\n")
    write(tmp_path / "b.yaml", "extends: a\n")
    with pytest.raises(ConfigError, match="cycle"):
        load_config(tmp_path / "a.yaml")
    write(tmp_path / "self.yaml", "extends: self\n")
    with pytest.raises(ConfigError, match="cycle"):
        load_config(tmp_path / "self.yaml")


def test_extends_missing_parent(tmp_path: Path) -> None:
    """A missing parent names the child file, the key ``extends`` and the parent."""
    f = write(tmp_path / "orphan.yaml", "extends: nowhere\n")
    with pytest.raises(ConfigError) as info:
        load_config(f)
    msg = str(info.value)
    assert str(f) in msg and "extends" in msg and "nowhere" in msg


@pytest.mark.parametrize("value", ["3", "[a]", "''"])
def test_extends_must_be_a_name(tmp_path: Path, value: str) -> None:
    """``extends`` must be a non-empty string."""
    f = write(tmp_path / "odd.yaml", f"extends: {value}\n")
    with pytest.raises(ConfigError, match="extends"):
        load_config(f)


# --------------------------------------------------------------------------- presets


def preset_files() -> list[Path]:
    return sorted((Path(__file__).resolve().parents[2] / "presets").glob("*/*.yaml"))


@pytest.mark.parametrize("path", preset_files(), ids=lambda p: p.stem)
def test_every_preset_loads(path: Path) -> None:
    """Every file in presets/ loads as its folder's experiment, validates and is named after its file."""
    from sim.config import load_config as load_any

    c = load_any(path)
    assert c.name == path.stem and c.experiment == path.parent.name
    assert c.description


def test_base_presets_and_variants_exist(presets_dir: Path) -> None:
    """The three base presets and their three case variants each are in presets/."""
    names = {p.stem for p in presets_dir.glob("*.yaml")}
    for base in BASE_PRESETS:
        assert base in names
        for variant in VARIANTS:
            assert f"{base}_{variant}" in names


@pytest.mark.parametrize("base", BASE_PRESETS)
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_variant_differs_in_exactly_its_key(presets_dir: Path, base: str, variant: str) -> None:
    """``<base>_<variant>`` equals ``<base>`` in every parameter except the variant's own key."""
    a = values(load_config(presets_dir / f"{base}.yaml"))
    b = values(load_config(presets_dir / f"{base}_{variant}.yaml"))
    key, value = VARIANTS[variant]
    assert {p for p in a if a[p] != b[p]} == {key}
    assert b[key] == value


PRESET_TABLE: dict[str, dict[str, Any]] = {
    "bamford2010": {
        "network.dt": 0.1,
        "run.duration": 300.0,
        "neuron.v_thresh": -54.0,
        "rewiring.scheme": "slot",
        "rewiring.partner": "random",
        "rewiring.ff.p_elim_dep": 0.0245,
        "rewiring.ff.p_elim_pot": 1.3611e-4,
        "rewiring.lat.p_elim_dep": 0.0245,
        "rewiring.lat.p_elim_pot": 1.3611e-4,
        "connectivity.wiring": "fixed_fan_in",
        "connectivity.ff_fan_in": 16,
        "connectivity.lat_fan_in": 16,
        "rewiring.s_max": 32,
        "stimulus.input": "correlated",
    },
    "bogdan2018": {
        "network.dt": 1.0,
        "run.duration": 300.0,
        "neuron.v_thresh": -50.0,
        "neuron.tau_ref": 5.0,
        "rewiring.scheme": "slot",
        "rewiring.partner": "last_spike",
        "rewiring.ff.p_elim_dep": 0.0245,
        "rewiring.ff.p_elim_pot": 1.36e-4,
        "connectivity.wiring": "fixed_fan_in",
        "rewiring.s_max": 32,
    },
    "knight2025": {
        "network.dt": 0.1,
        "run.duration": 60.0,
        "neuron.v_thresh": -54.0,
        "neuron.tau_ref": 5.0,
        "rewiring.scheme": "pair",
        "rewiring.interval": 1.0,
        "rewiring.ff.p_elim_dep": 1.225,
        "rewiring.ff.p_elim_pot": 0.0068,
        "rewiring.lat.p_elim_dep": 1.225,
        "rewiring.lat.p_elim_pot": 0.0068,
        "connectivity.wiring": "pairwise_bernoulli",
        "neuron.v_init": "normal",
        "stimulus.tiled": True,
    },
}
#: Rewiring attempts per call at scale 1 (MODEL.md's preset table).
ATTEMPTS = {"bamford2010": 1.0, "bogdan2018": 10.0, "knight2025": 10.0}


@pytest.mark.parametrize("name", BASE_PRESETS)
def test_preset_values_match_model_md(presets_dir: Path, name: str) -> None:
    """Each base preset has MODEL.md's values, including its rewiring attempts per call."""
    c = load_config(presets_dir / f"{name}.yaml")
    got = values(c)
    for path, expected in PRESET_TABLE[name].items():
        assert got[path] == expected, path
    assert attempts_per_call(c) == pytest.approx(ATTEMPTS[name])


def test_knight_attempts_scale_with_grid(make_config: Callable[..., ModelConfig]) -> None:
    """The GeNN study's attempts are 10 * scale^2 per 1 ms call."""
    for scale in (1, 2, 3):
        c = make_config({"network.scale": scale}, preset="knight2025")
        assert attempts_per_call(c) == pytest.approx(10.0 * scale**2)


# --------------------------------------------------------------------------- experiments


def test_a_configuration_names_its_experiment(tmp_path: Path) -> None:
    """``experiment:`` defaults to topomap; the key is written back; an unknown one is refused in one line."""
    from sim.config import config_from_dict, load_config

    plain = tmp_path / "plain" / "preset.yaml"
    plain.parent.mkdir()
    plain.write_text("network: {scale: 1}\n")
    named = tmp_path / "named" / "preset.yaml"
    named.parent.mkdir()
    named.write_text("experiment: topomap\nnetwork: {scale: 1}\n")
    assert load_config(plain).to_dict() == load_config(named).to_dict()
    assert load_config(plain).to_yaml().startswith("experiment: topomap\n")
    assert config_from_dict(yaml.safe_load(ModelConfig().to_yaml())) == ModelConfig()
    other = tmp_path / "other.yaml"
    other.write_text("experiment: tomography\n")
    with pytest.raises(ConfigError) as err:
        load_config(other)
    known = "topomap, classifier, channels"
    assert str(err.value) == f"{other}: experiment: unknown experiment 'tomography' (known: {known})"
    with pytest.raises(ConfigError, match="unknown experiment 7"):
        config_from_dict({"experiment": 7})
    with pytest.raises(ConfigError, match="names experiment 'tomography', not 'topomap'"):
        ModelConfig.from_dict({"experiment": "tomography"})
