import json

import torch

from aelab.bench.throughput import (
    _leaf_layers,
    _network,
    flops_per_sample,
    format_report,
    layer_flops_per_sample,
    layer_shapes,
    main,
)


def test_layer_shapes_mirror_the_encoder():
    assert layer_shapes(784) == [(784, 512), (512, 256), (256, 32), (32, 256), (256, 512), (512, 784)]


def test_flops_count_forward_weight_and_input_gradients_except_first_input():
    # one layer 3->2: forward and weight gradient only (the input needs no gradient)
    assert flops_per_sample([(3, 2)]) == 2 * 3 * 2 * 2
    # two layers: the second also has its input gradient
    assert flops_per_sample([(3, 2), (2, 3)]) == 2 * 6 * 2 + 2 * 6 * 3
    assert flops_per_sample(layer_shapes(784)) == 2 * (3 * 1081344 - 401408)


def test_layer_flops_of_the_dense_network_equal_the_gemm_count():
    network = _network("dense", 784, "cpu")
    layers = _leaf_layers(network, 784, torch.device("cpu"))
    assert [(m.in_features, m.out_features) for m, _ in layers] == layer_shapes(784)
    assert layer_flops_per_sample(layers) == flops_per_sample(layer_shapes(784))


def test_conv_layers_and_their_flops():
    network = _network("conv", 784, "cpu")
    layers = _leaf_layers(network, 784, torch.device("cpu"))
    assert [type(m).__name__ for m, _ in layers] == ["Conv2d", "Conv2d", "Linear", "Linear", "ConvTranspose2d",
                                                     "ConvTranspose2d"]
    assert [shape for _, shape in layers] == [(1, 28, 28), (32, 14, 14), (3136,), (32,), (64, 7, 7), (32, 14, 14)]
    # multiply-adds: conv 1->32 to 14x14, conv 32->64 to 7x7, 3136->32, 32->3136, convT 64->32 from 7x7,
    # convT 32->1 from 14x14 (kernel 4 x 4 = 16)
    macs = [14 * 14 * 32 * 1 * 16, 7 * 7 * 64 * 32 * 16, 3136 * 32, 32 * 3136, 7 * 7 * 64 * 32 * 16,
            14 * 14 * 32 * 1 * 16]
    assert layer_flops_per_sample(layers) == 2 * (2 * macs[0] + 3 * sum(macs[1:]))


def test_report_formats_ratios():
    row = {"batch_size": 256, "samples_per_second": 8000.0, "plain_samples_per_second": 4000.0,
           "bound_samples_per_second": 10000.0, "bound_gflops": 56.9, "ratio_to_bound": 0.8, "ratio_to_plain": 2.0}
    result = {"data": "d", "n_samples": 10, "rounds": 1, "epochs_per_round": 1, "torch": "t", "threads": 2,
              "device": "cpu", "peak_rss_mb": 512.0,
              "models": [{"model": "dense", "shape": "784-512-256-32", "flops_per_sample": 5.69e6,
                          "encode_samples_per_second": 123456.0, "rows": [row]}],
              "stream": {"file_bytes": 2e9, "n_rows": 637755, "batch_size": 1024, "epochs": 1,
                         "samples_per_second": 9000.0, "peak_rss_mb": 700.0}}
    text = format_report(result)
    assert "5.69 MFLOP" in text and "8,000" in text and "4,000" in text and "10,000" in text
    assert "0.80" in text and "2.00" in text and "encode 123,456 samples/s" in text
    assert "2.00 GB" in text and "peak resident memory 700 MB" in text


def test_quick_run_measures_both_models_and_the_stream(tmp_path, capsys):
    assert main(["--quick", "--json", str(tmp_path / "bench.json")]) == 0
    result = json.loads((tmp_path / "bench.json").read_text())
    assert [m["model"] for m in result["models"]] == ["dense", "conv"]
    for model in result["models"]:
        (row,) = model["rows"]
        assert row["batch_size"] == 128
        for key in ("samples_per_second", "plain_samples_per_second", "bound_samples_per_second"):
            assert row[key] > 0
        assert row["ratio_to_bound"] == row["samples_per_second"] / row["bound_samples_per_second"]
        assert row["ratio_to_plain"] == row["samples_per_second"] / row["plain_samples_per_second"]
        assert model["encode_samples_per_second"] > 0
    stream = result["stream"]
    assert stream["n_rows"] == 8 * 10**6 // (4 * 784) and stream["file_bytes"] > 8 * 10**6
    assert stream["peak_rss_mb"] > 0 and stream["samples_per_second"] > 0
    assert "ours/bound" in capsys.readouterr().out
