import json
import pickle

import numpy as np
import pytest
from safetensors.numpy import save_file

from aelab import Autoencoder, load
from aelab.parts import Dense


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    X = np.random.default_rng(0).random((100, 6)).astype(np.float32)
    path = tmp_path_factory.mktemp("m") / "model"
    Autoencoder(encoder=Dense(hidden=(5,)), n_components=2, epochs=2, random_state=0).fit(X).save(path)
    return path


def copy_of(saved, tmp_path):
    import shutil

    target = tmp_path / "copy"
    shutil.copytree(saved, target)
    return target


def test_refuses_changed_shape(saved, tmp_path):
    path = copy_of(saved, tmp_path)
    from safetensors.numpy import load_file

    tensors = load_file(path / "model.safetensors")
    name = sorted(tensors)[0]
    tensors[name] = np.zeros((3, 3), dtype=np.float32)
    save_file(tensors, path / "model.safetensors")
    with pytest.raises(ValueError, match=f"tensor {name} has shape"):
        load(path)


def test_refuses_extra_tensor(saved, tmp_path):
    path = copy_of(saved, tmp_path)
    from safetensors.numpy import load_file

    tensors = load_file(path / "model.safetensors")
    tensors["extra"] = np.zeros(2, dtype=np.float32)
    save_file(tensors, path / "model.safetensors")
    with pytest.raises(ValueError, match=r"tensor names do not match the configuration \(unexpected \['extra'\]"):
        load(path)


def test_refuses_pickle_renamed_to_safetensors(saved, tmp_path):
    path = copy_of(saved, tmp_path)
    (path / "model.safetensors").write_bytes(pickle.dumps({"weights": [1, 2, 3]}))
    with pytest.raises(ValueError, match="is not a valid safetensors file"):
        load(path)


def test_refuses_unknown_json_keys(saved, tmp_path):
    path = copy_of(saved, tmp_path)
    record = json.loads((path / "model.json").read_text())
    record["params"]["__reduce__"] = "os.system"
    (path / "model.json").write_text(json.dumps(record))
    with pytest.raises(ValueError, match=r"params must be exactly .*unknown \['__reduce__'\]"):
        load(path)


def test_refuses_unknown_top_level_key_and_bad_json(saved, tmp_path):
    path = copy_of(saved, tmp_path)
    record = json.loads((path / "model.json").read_text())
    (path / "model.json").write_text(json.dumps({**record, "code": "print(1)"}))
    with pytest.raises(ValueError, match=r"unknown keys \['code'\]"):
        load(path)
    (path / "model.json").write_text("{not json")
    with pytest.raises(ValueError, match="is not valid JSON"):
        load(path)


def test_refuses_missing_files(tmp_path):
    with pytest.raises(ValueError, match="it is not a folder"):
        load(tmp_path / "none")
    with pytest.raises(ValueError, match="model.json is missing"):
        load(tmp_path)


@pytest.mark.parametrize("key, value", [("epochs", "50"), ("n_components", 2.0), ("verbose", True), ("device", 0),
                                        ("random_state", 1.5), ("patience", [])])
def test_refuses_a_parameter_of_the_wrong_type(saved, tmp_path, key, value):
    path = copy_of(saved, tmp_path)
    record = json.loads((path / "model.json").read_text())
    record["params"][key] = value
    (path / "model.json").write_text(json.dumps(record))
    with pytest.raises(ValueError, match=rf"params.{key} is .*, of the wrong type for this parameter"):
        load(path)


def test_a_model_with_none_where_allowed_loads(saved, tmp_path):
    path = copy_of(saved, tmp_path)
    record = json.loads((path / "model.json").read_text())
    record["params"].update(patience=None, random_state=None, corruption=None, latent=None)
    (path / "model.json").write_text(json.dumps(record))
    loaded = load(path)
    assert loaded.patience is None and loaded.latent is None and loaded.corruption is None


def test_refuses_a_part_parameter_of_the_wrong_type(saved, tmp_path):
    path = copy_of(saved, tmp_path)
    record = json.loads((path / "model.json").read_text())
    record["params"]["encoder"]["params"]["hidden"] = [5.5]
    (path / "model.json").write_text(json.dumps(record))
    with pytest.raises(ValueError,
                       match=r"holds an invalid configuration \(ValueError: Dense hidden must hold positive "
                                         r"integer widths, got \(5.5,\)\)"):
        load(path)
