"""Exported encoders and decoders give what the Pipeline gives: the ONNX files run in onnxruntime, the TorchScript
files in torch, on raw data and with batch sizes other than the one they were traced with."""

import copy
import json

import numpy as np
import pytest
import torch
from sklearn.pipeline import Pipeline

from aelab import Autoencoder
from aelab.cli import main
from aelab.data import load_dataset
from aelab.data.preprocessing import RangeScaler
from aelab.export import export_model
from aelab.parts.kinds import kind

KINDS = {"vanilla": {"encoder__hidden": (16,)}, "conv": {"encoder__filters": (4, 8)},
         "variational": {"encoder__hidden": (16,)}}


def _pipeline(name: str, X: np.ndarray) -> Pipeline:
    params = kind(name, n_components=3, epochs=1, random_state=0, device="cpu", **KINDS[name])
    if name == "conv":
        params["encoder"].set_params(sample_shape=(1, 8, 8))
    return Pipeline([("scaling", RangeScaler(per_feature=False)), ("autoencoder", Autoencoder(**params))]).fit(X)


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits").X[:400]  # raw pixels, 0..16


@pytest.fixture(scope="module", params=list(KINDS))
def model(request, digits):
    return request.param, _pipeline(request.param, digits)


def _onnx_halves(folder):
    onnxruntime = pytest.importorskip("onnxruntime")
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1

    def run(part, name, values):
        session = onnxruntime.InferenceSession(str(folder / f"{part}.onnx"), options,
                                               providers=["CPUExecutionProvider"])
        return session.run(None, {name: values})[0]

    return (lambda X: run("encoder", "data", X)), (lambda Z: run("decoder", "code", Z))


def _torchscript_halves(folder):
    encoder, decoder = (torch.jit.load(str(folder / f"{part}.pt")) for part in ("encoder", "decoder"))

    def run(module, values):
        with torch.no_grad():
            return module(torch.from_numpy(values)).numpy()

    return (lambda X: run(encoder, X)), (lambda Z: run(decoder, Z))


def _check_onnx_files(folder, record):
    """export.json and the ONNX graphs name the same inputs and outputs, with a free batch dimension."""
    onnx = pytest.importorskip("onnx")
    assert record == json.loads((folder / "export.json").read_text())
    assert record["format"] == "onnx" and record["opset"] == 18 and record["scaling_folded_in"] is True
    assert record["encoder"]["inputs"] == [{"name": "data", "dtype": "float32", "shape": ["batch", 64]}]
    assert record["decoder"]["outputs"] == [{"name": "reconstruction", "dtype": "float32", "shape": ["batch", 64]}]
    for part, (input_name, output_name) in (("encoder", ("data", "code")), ("decoder", ("code", "reconstruction"))):
        written = onnx.load(str(folder / f"{part}.onnx"))
        assert [i.name for i in written.graph.input] == [input_name]
        assert [o.name for o in written.graph.output] == [output_name]
        assert written.graph.input[0].type.tensor_type.shape.dim[0].dim_param  # a named, free batch dimension
        assert record[part]["bytes"] == (folder / f"{part}.onnx").stat().st_size


@pytest.mark.parametrize("format", ["onnx", "torchscript"])
def test_exported_halves_match_transform_and_inverse_transform(model, format, digits, tmp_path):
    if format == "onnx":
        pytest.importorskip("onnxscript")
    name, pipeline = model
    record = export_model(pipeline, tmp_path / "out", format=format, opset=18 if format == "onnx" else None)
    encode, decode = (_onnx_halves if format == "onnx" else _torchscript_halves)(tmp_path / "out")
    refine_steps = getattr(pipeline[-1].latent, "refine_steps", 0)  # the umap kind's: not in the exported encoder
    unrefined = copy.deepcopy(pipeline).set_params(autoencoder__latent__refine_steps=0) if refine_steps else pipeline
    for rows in (digits[:1], digits[:37], digits):  # batch sizes other than the traced one
        raw = rows.astype(np.float32)
        codes = unrefined.transform(raw)
        assert np.abs(encode(raw) - codes).max() < 1e-5, name
        assert np.abs(decode(codes) - pipeline.inverse_transform(codes)).max() < 1e-5, name
    assert record["code"] == ("the posterior mean" if name == "variational" else "the encoder's code, before the 10 "
                              "refinement steps against the decoder that the model's transform takes (refine_steps)"
                              if name == "umap" else "the code")
    if format == "onnx":
        _check_onnx_files(tmp_path / "out", record)


def test_an_exported_file_holds_only_its_half(digits, tmp_path):
    pipeline = _pipeline("vanilla", digits)
    export_model(pipeline, tmp_path / "out", format="torchscript")
    names = set(dict(torch.jit.load(str(tmp_path / "out" / "encoder.pt")).named_parameters()))
    assert names and all(n.startswith("encoder.") for n in names)


def test_export_refuses_a_bad_format_or_opset(digits, tmp_path):
    pipeline = _pipeline("vanilla", digits)
    with pytest.raises(ValueError, match="unknown export format 'tflite'; choose one of onnx, torchscript"):
        export_model(pipeline, tmp_path / "a", format="tflite")
    with pytest.raises(ValueError, match="an opset is a setting of ONNX export"):
        export_model(pipeline, tmp_path / "b", format="torchscript", opset=18)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_aelab_export_writes_a_run_s_halves(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--data", "digits", "--hidden", "8", "--latent", "2", "--epochs", "1", "--quiet",
                 "--device", "cpu", "--out", str(run)]) == 0
    capsys.readouterr()
    assert main(["export", "--run", str(run), "--format", "torchscript", "--out", str(tmp_path / "ts")]) == 0
    assert "exported encoder.pt (" in capsys.readouterr().out
    assert sorted(p.name for p in (tmp_path / "ts").iterdir()) == ["decoder.pt", "encoder.pt", "export.json"]
    assert json.loads((tmp_path / "ts" / "export.json").read_text())["source"] == str(run)
    assert main(["export", "--run", str(tmp_path / "ts"), "--format", "torchscript", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is not a valid aelab model: model.json is missing" in err
