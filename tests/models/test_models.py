import pytest
import torch

from digitlab.core.errors import DigitlabError
from digitlab.models import BN_EPS, BN_MOMENTUM, available, build_gate, build_line, build_model, count_parameters


def test_seed1_parameter_counts_match_keras():
    c = count_parameters(build_model({"arch": "seed1"}))
    assert c == {"trainable": 930_940, "non_trainable": 3_124, "total": 934_064}


def test_seed2_has_about_2_1_million_trainable_parameters():
    c = count_parameters(build_model({"arch": "seed2"}))
    assert abs(c["trainable"] - 2_100_000) <= 210_000


@pytest.mark.parametrize("arch", list(available()))  # every registered model
def test_forward_shapes_train_step_and_l2_tensors(arch):
    m = build_model({"arch": arch, "l2": 1e-4})
    assert m(torch.rand(3, 1, 28, 28)).shape == (3, 10)
    assert all(isinstance(w, torch.nn.Parameter) for w in m.l2_parameters())
    m.train()
    loss = torch.nn.functional.cross_entropy(m(torch.rand(4, 1, 28, 28)), torch.arange(4))
    loss.backward()
    assert all(p.grad is not None for p in m.parameters())


@pytest.mark.parametrize("arch", ["seed1", "seed2"])  # the Keras ports; fast keeps PyTorch's defaults
def test_seed_networks_have_keras_init(arch):
    m = build_model({"arch": arch, "l2": 1e-4})
    for mod in m.modules():
        if isinstance(mod, (torch.nn.Conv2d, torch.nn.Linear)):
            assert torch.count_nonzero(mod.bias) == 0
            fan_in = mod.weight[0].numel()
            fan_out = mod.weight.shape[0] * mod.weight[0, 0].numel()
            limit = (6 / (fan_in + fan_out)) ** 0.5  # Glorot uniform bound
            assert mod.weight.abs().max() <= limit + 1e-6
        if isinstance(mod, torch.nn.modules.batchnorm._BatchNorm):
            assert mod.eps == BN_EPS


def test_seed1_uses_spatial_dropout_and_same_padding_only_in_block3():
    m = build_model({"arch": "seed1"})
    blocks = list(m.features)
    assert all(isinstance(b[-1], torch.nn.Dropout2d) for b in blocks)
    paddings = [[c.padding for c in b if isinstance(c, torch.nn.Conv2d)] for b in blocks]
    assert paddings == [["valid", "valid"], ["valid", "valid"], ["same", "same"]]
    assert m.l2_parameters()[0] is m.dense.weight and m.dense.out_features == 1050


def test_spatial_dropout_drops_whole_channels():
    drop = build_model({"arch": "seed1"}).features[0][-1]
    drop.train()
    out = drop(torch.ones(4, 32, 12, 12))
    per_channel = out.flatten(2)
    assert torch.all(per_channel.min(2).values == per_channel.max(2).values)  # each channel all-or-nothing
    assert 0 < (per_channel[:, :, 0] == 0).float().mean() < 0.5


def test_batchnorm_statistics_are_true_from_the_first_batch_then_keras_momentum():
    m = build_model({"arch": "seed1"}).train()
    bn = m.features[0][2]
    x = torch.rand(16, 1, 28, 28)
    m(x)
    act = torch.relu(m.features[0][0](x))
    torch.testing.assert_close(bn.running_mean, act.mean((0, 2, 3)), rtol=1e-4, atol=1e-5)
    for _ in range(200):
        m(torch.rand(2, 1, 28, 28))
    assert bn.momentum == pytest.approx(BN_MOMENTUM)


def test_fast_network_stages_and_its_bad_settings():
    m = build_model({"arch": "fast"})
    convs = [mod for mod in m.features if isinstance(mod, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [16, 32, 64, 64] and all(c.bias is None for c in convs)
    assert count_parameters(m) == {"trainable": 66_170, "non_trainable": 352, "total": 66_522}
    wide = build_model({"arch": "fast", "stages": [[24], [48, 48], [96, 96]]})
    assert wide(torch.rand(2, 1, 28, 28)).shape == (2, 10) and wide.head.in_features == 96 * 9
    with pytest.raises(DigitlabError, match="stages must be 3 lists of positive channel counts"):
        build_model({"arch": "fast", "stages": [[16], [32]]})


def test_fast_pool_first_runs_the_stage_after_its_first_convolution_at_the_pooled_size():
    plain = build_model({"arch": "fast", "stages": [[16], [32], [64, 64]]})
    first = build_model({"arch": "fast", "stages": [[16], [32], [64, 64]], "pool_first": True})
    assert count_parameters(first) == count_parameters(plain)  # the same weights, in another order

    def batchnorm_sizes(net):
        x, sizes = torch.rand(2, 1, 28, 28), []
        for layer in net.features:
            x = layer(x)
            sizes += [x.shape[-1]] if isinstance(layer, torch.nn.BatchNorm2d) else []
        return sizes

    assert batchnorm_sizes(plain) == [28, 14, 7, 7]
    assert batchnorm_sizes(first) == [14, 7, 3, 3]  # BatchNorm on a quarter of the pixels


def test_unknown_model_is_a_clear_error():
    with pytest.raises(DigitlabError, match="unknown model 'resnet'.*seed1"):
        build_model({"arch": "resnet"})
    with pytest.raises(DigitlabError, match="bad settings"):
        build_model({"arch": "seed1", "width": 3})
    assert {"seed1", "seed2"} <= set(available())


def test_the_gate_is_small_answers_three_kinds_and_is_no_digit_classifier():
    gate = build_gate({"arch": "gate", "widths": [16, 32, 64], "dense": 64, "classes": 3})
    assert gate(torch.rand(5, 1, 28, 28)).shape == (5, 3)
    assert count_parameters(gate)["trainable"] < 100_000
    assert "gate" not in available()  # no training preset can pick it as a digit reader


def test_the_line_reader_answers_eleven_classes_every_four_columns_and_is_no_digit_classifier():
    line = build_line({"arch": "line", "widths": [24, 48, 64, 96], "hidden": 128})
    assert line(torch.rand(2, 1, 32, 120)).shape == (2, 11, 30)
    assert count_parameters(line)["trainable"] < 400_000
    assert "line" not in available()
