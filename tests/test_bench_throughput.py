from aelab.bench.throughput import flops_per_sample, format_report, layer_shapes


def test_layer_shapes_mirror_the_encoder():
    assert layer_shapes(784) == [(784, 512), (512, 256), (256, 32), (32, 256), (256, 512), (512, 784)]


def test_flops_count_forward_weight_and_input_gradients_except_first_input():
    # one layer 3->2: forward and weight gradient only (the input needs no gradient)
    assert flops_per_sample([(3, 2)]) == 2 * 3 * 2 * 2
    # two layers: the second also has its input gradient
    assert flops_per_sample([(3, 2), (2, 3)]) == 2 * 6 * 2 + 2 * 6 * 3
    assert flops_per_sample(layer_shapes(784)) == 2 * (3 * 1081344 - 401408)


def test_report_formats_ratio():
    result = {"model": "m", "data": "d", "n_samples": 10, "rounds": 1, "epochs_per_round": 1, "torch": "t",
              "threads": 2, "flops_per_sample": 5.69e6,
              "rows": [{"batch_size": 256, "samples_per_second": 8000.0, "bound_samples_per_second": 10000.0,
                        "matmul_gflops": 56.9, "ratio_to_bound": 0.8}]}
    text = format_report(result)
    assert "5.69 M" in text and "8,000" in text and "10,000" in text and "0.80" in text
