"""Every network of the zoo: forward at its default and smallest sizes, the too-small error,
and its parameter count against a count derived by hand from the seed's definition."""

import pytest
import torch
from torch import nn

from classicnets.errors import InputSizeError, ModelError
from classicnets.models import (
    BookBatchNorm,
    create_model,
    create_model_for_input,
    fashion_network_sequential,
    init_book_weights,
    init_kaiming_weights,
    list_models,
    model_arguments,
    smallest_input_side,
)
from classicnets.training import recipe_config

# --- independent parameter counts, written from the seeds' layer lists -----------------------


def conv(c_in, c_out, k):
    return c_in * c_out * k * k + c_out


def lin(f_in, f_out):
    return f_in * f_out + f_out


def bn(c):
    return 2 * c


def vgg_count(arch, ratio=1, side=7):
    total, c_in = 0, 1
    for num_convs, c_out in arch:
        c_out //= ratio
        for _ in range(num_convs):
            total += conv(c_in, c_out, 3)
            c_in = c_out
    return total + lin(c_in * side * side, 4096) + lin(4096, 4096) + lin(4096, 10)


def nin_count():
    block = lambda c_in, c_out, k: conv(c_in, c_out, k) + 2 * conv(c_out, c_out, 1)  # noqa: E731
    return block(1, 96, 11) + block(96, 256, 5) + block(256, 384, 3) + block(384, 10, 3)


def googlenet_count():
    def inception(c_in, c1, c2, c3, c4):
        return (
            conv(c_in, c1, 1)
            + conv(c_in, c2[0], 1)
            + conv(c2[0], c2[1], 3)
            + conv(c_in, c3[0], 1)
            + conv(c3[0], c3[1], 5)
            + conv(c_in, c4, 1)
        )

    return (
        conv(1, 64, 7)
        + conv(64, 64, 1)
        + conv(64, 192, 3)
        + inception(192, 64, (96, 128), (16, 32), 32)
        + inception(256, 128, (128, 192), (32, 96), 64)
        + inception(480, 192, (96, 208), (16, 48), 64)
        + inception(512, 160, (112, 224), (24, 64), 64)
        + inception(512, 128, (128, 256), (24, 64), 64)
        + inception(512, 112, (144, 288), (32, 64), 64)
        + inception(528, 256, (160, 320), (32, 128), 128)
        + inception(832, 256, (160, 320), (32, 128), 128)
        + inception(832, 384, (192, 384), (48, 128), 128)
        + lin(1024, 10)
    )


def resnet_count(layers):
    def residual(c_in, c_out, shortcut):
        return (
            conv(c_in, c_out, 3)
            + conv(c_out, c_out, 3)
            + 2 * bn(c_out)
            + (conv(c_in, c_out, 1) if shortcut else 0)
        )

    total = conv(1, 64, 7) + bn(64)
    channels = [64, 64, 128, 256, 512]
    for stage, blocks in enumerate(layers):
        for i in range(blocks):
            first = i == 0 and stage > 0
            total += residual(channels[stage] if first else channels[stage + 1], channels[stage + 1], first)
    return total + lin(512, 10)


def densenet_count():
    total, c = conv(1, 64, 7) + bn(64), 64
    for i in range(4):
        for j in range(4):
            total += bn(c + 32 * j) + conv(c + 32 * j, 32, 3)
        c += 4 * 32
        if i < 3:
            total += bn(c) + conv(c, c // 2, 1)
            c //= 2
    return total + bn(c) + lin(c, 10)


VGG11 = ((1, 64), (1, 128), (2, 256), (2, 512), (2, 512))
EXPECTED_PARAMS = {
    "mlp": lin(784, 256) + lin(256, 128) + lin(128, 10),
    "tiny_cnn": 12,  # seed 003's torchsummary: "Total params: 12"
    "lenet": conv(1, 6, 5) + conv(6, 16, 5) + lin(16 * 5 * 5, 120) + lin(120, 84) + lin(84, 10),
    "lenet_bn": (
        conv(1, 6, 5)
        + bn(6)
        + conv(6, 16, 5)
        + bn(16)
        + lin(256, 120)
        + bn(120)
        + lin(120, 84)
        + bn(84)
        + lin(84, 10)
    ),
    "alexnet": (
        conv(1, 96, 11)
        + conv(96, 256, 5)
        + conv(256, 384, 3)
        + conv(384, 384, 3)
        + conv(384, 256, 3)
        + lin(6400, 4096)
        + lin(4096, 4096)
        + lin(4096, 10)
    ),
    "vgg11": vgg_count(VGG11),
    "vgg13": vgg_count(((2, 64), (2, 128), (2, 256), (2, 512), (2, 512))),
    "vgg16": vgg_count(((2, 64), (2, 128), (3, 256), (3, 512), (3, 512))),
    "vgg19": vgg_count(((2, 64), (2, 128), (4, 256), (4, 512), (4, 512))),
    "nin": nin_count(),
    "googlenet": googlenet_count(),
    "resnet18": resnet_count((2, 2, 2, 2)),
    "resnet34": resnet_count((3, 4, 6, 3)),
    "densenet": densenet_count(),
}


def n_params(model):
    return sum(p.numel() for p in model.parameters())


def test_every_registered_network_has_an_expected_count():
    assert sorted(EXPECTED_PARAMS) == sorted(list_models())


@pytest.mark.parametrize("name", list_models())
def test_parameter_count_matches_the_seed(name):
    with torch.device("meta"):
        assert n_params(create_model(name)) == EXPECTED_PARAMS[name]


def book_input(name):
    return recipe_config(name, "book").input_spec()


def num_classes(name):
    return model_arguments(name)["num_classes"].default


@pytest.mark.parametrize("name", list_models())
def test_forward_at_book_size_backward_and_surface(name):
    torch.manual_seed(0)
    spec = book_input(name)
    model = create_model_for_input(name, spec.resize)
    x = torch.randn(2, *spec.shape)
    out = model(x)
    assert out.shape == (2, num_classes(name)) and torch.isfinite(out).all()
    out.sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(model.forward_head(model.forward_features(x)), model(x))
    classifier = model.get_classifier()
    last = [m for m in classifier.modules() if isinstance(m, (nn.Linear, nn.Conv2d))][-1]
    assert (last.out_features if isinstance(last, nn.Linear) else last.out_channels) == num_classes(name)


@pytest.mark.parametrize("name", list_models())
def test_smallest_size_works_and_one_less_names_it(name):
    side = smallest_input_side(name)
    model = create_model_for_input(name, side).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 1, side, side)).shape == (1, num_classes(name))
    if side == 1:
        return  # takes any input at all (e.g. ResNet: padded stem and pools)
    with pytest.raises(InputSizeError, match=f"smallest size that works is {side}x{side}"):
        create_model_for_input(name, side - 1)
    if model.fixed_input_size is None:  # the same limit when a built network is fed too small an input
        with pytest.raises(InputSizeError, match=f"smallest size that works is {side}x{side}"):
            model(torch.randn(1, 1, side - 1, side - 1))


def test_known_smallest_sizes():
    assert create_model("densenet").min_input_size == 29
    assert create_model("nin").min_input_size == 67
    assert {n: smallest_input_side(n) for n in ("mlp", "lenet", "alexnet", "vgg11", "resnet18")} == {
        "mlp": 1,
        "lenet": 12,
        "alexnet": 65,
        "vgg11": 32,
        "resnet18": 1,
    }
    # AlexNet: the last 3/2 pool needs 3 px, the second 7, the first 15 = (n + 2 - 11) // 4 + 1,
    # so n >= 65.
    with pytest.raises(
        InputSizeError, match="alexnet cannot take 64x64 inputs: the smallest size that works is 65x65"
    ):
        create_model("alexnet", input_size=64)


def test_wrong_size_or_channels_for_a_fixed_classifier_is_a_clear_error():
    model = create_model("lenet")
    with pytest.raises(InputSizeError, match="built for 28x28 inputs .* got 32x32: resize the input to 28"):
        model(torch.randn(1, 1, 32, 32))
    with pytest.raises(InputSizeError, match="built for 1-channel input, got 3 channels"):
        model(torch.randn(1, 3, 28, 28))
    with pytest.raises(InputSizeError, match=r"shaped \(N, C, H, W\)"):
        model(torch.randn(28, 28))


def test_in_channels_and_num_classes_are_arguments():
    model = create_model("resnet18", in_channels=3, num_classes=7)
    assert model(torch.randn(2, 3, 64, 64)).shape == (2, 7)
    model = create_model("alexnet", in_channels=3, num_classes=5, input_size=96)
    assert model(torch.randn(1, 3, 96, 96)).shape == (1, 5)


def test_vgg_narrow_and_batchnorm_variants():
    narrow = create_model("vgg11", width_ratio=4, input_size=96)
    assert n_params(narrow) == vgg_count(VGG11, ratio=4, side=3)  # seed 001: 3x3 at 96 px
    with_bn = create_model("vgg11", batch_norm=True, width_ratio=4, input_size=96)
    assert sum(isinstance(m, nn.BatchNorm2d) for m in with_bn.modules()) == 8
    assert with_bn(torch.randn(2, 1, 96, 96)).shape == (2, 10)


def test_vgg_keeps_its_first_blocks_and_takes_a_narrower_classifier():
    # The speedrun's network: VGG-11's first three blocks at half width, 28 -> 3 px, a linear head.
    small = create_model("vgg11", blocks=3, width_ratio=2, batch_norm=True, hidden=0, input_size=28)
    convs = [m for m in small.modules() if isinstance(m, nn.Conv2d)]
    assert [(c.in_channels, c.out_channels) for c in convs] == [(1, 32), (32, 64), (64, 128), (128, 128)]
    bn = 2 * (32 + 64 + 128 + 128)
    assert n_params(small) == conv(1, 32, 3) + conv(32, 64, 3) + conv(64, 128, 3) + conv(
        128, 128, 3
    ) + bn + lin(128 * 3 * 3, 10)
    assert small.get_classifier() is small.head[1] and small(torch.randn(2, 1, 28, 28)).shape == (2, 10)
    hidden = create_model("vgg11", blocks=2, width_ratio=4, hidden=64, input_size=28)
    assert [m.out_features for m in hidden.head if isinstance(m, nn.Linear)] == [64, 64, 10]
    assert hidden.get_classifier() is hidden.head[7]
    with pytest.raises(ModelError, match="blocks must be from 1 to 5"):
        create_model("vgg11", blocks=6)
    with pytest.raises(ModelError, match="hidden must be a width >= 0"):
        create_model("vgg11", hidden=-1)


def test_unknown_model_or_argument_is_a_model_error():
    with pytest.raises(ModelError, match="unknown model 'lenet6'; choose one of: mlp, tiny_cnn"):
        create_model("lenet6")
    with pytest.raises(
        ModelError, match="resnet18 does not take width_ratio; it takes: in_channels, num_classes"
    ):
        create_model("resnet18", width_ratio=2)


def test_mlp_module_functional_and_sequential_forms_agree():
    torch.manual_seed(0)
    module = create_model("mlp")
    functional = create_model("mlp", form="functional")
    sequential = fashion_network_sequential()
    functional.load_state_dict(module.state_dict())
    sequential.load_state_dict(module.state_dict())
    x = torch.randn(16, 1, 28, 28)
    for m in (module, functional, sequential):
        m.eval()
    with torch.no_grad():
        expected = module(x)
        torch.testing.assert_close(functional(x), expected, rtol=0, atol=0)
        torch.testing.assert_close(sequential(x), expected, rtol=0, atol=0)
        torch.testing.assert_close(module(x.flatten(1)), expected, rtol=0, atol=0)  # seed 002 feeds (N, 784)
    assert torch.allclose(expected.exp().sum(1), torch.ones(16))  # log-probabilities


def test_book_batchnorm_matches_pytorch_batchnorm():
    torch.manual_seed(0)
    for dims, reference in ((4, nn.BatchNorm2d(6, momentum=0.1)), (2, nn.BatchNorm1d(6, momentum=0.1))):
        book = BookBatchNorm(6, dims)
        x = torch.randn(32, 6, 5, 5) * 3 + 1 if dims == 4 else torch.randn(32, 6) * 3 + 1
        torch.testing.assert_close(book(x), reference(x), atol=1e-5, rtol=1e-5)
        # Book convention: momentum 0.9 weighs the old average, as PyTorch's 0.1 weighs the new.
        torch.testing.assert_close(book.moving_mean.flatten(), reference.running_mean)
        book.eval()
        reference.eval()
        book.moving_var.copy_(reference.running_var.view_as(book.moving_var))
        torch.testing.assert_close(book(x), reference(x), atol=1e-5, rtol=1e-5)


def test_lenet_bn_scratch_norm_builds_and_trains_a_step():
    model = create_model("lenet_bn", norm="scratch")
    assert sum(isinstance(m, BookBatchNorm) for m in model.modules()) == 4
    loss = nn.functional.cross_entropy(model(torch.randn(8, 1, 28, 28)), torch.arange(8))
    loss.backward()
    assert model.features[1].gamma.grad is not None


def test_book_init_is_xavier_uniform_on_linear_and_conv_only():
    torch.manual_seed(0)
    model = init_book_weights(create_model("lenet_bn"))
    conv1 = model.features[0]
    fan_in, fan_out = 1 * 25, 6 * 25
    bound = (6 / (fan_in + fan_out)) ** 0.5
    largest = float(conv1.weight.detach().abs().max())
    assert 0.9 * bound < largest <= bound
    assert torch.equal(model.features[1].weight, torch.ones(6))  # BatchNorm untouched


def test_activation_by_name_and_bad_values_are_model_errors():
    assert isinstance(create_model("lenet", act_layer="relu").features[1], nn.ReLU)
    with pytest.raises(ModelError, match="unknown activation 'swish'"):
        create_model("lenet", act_layer="swish")
    with pytest.raises(ModelError, match=r"cannot build vgg11\(width_ratio='wide'\)"):
        create_model("vgg11", width_ratio="wide")


def test_googlenet_batchnorm_variant_adds_bn_after_every_conv():
    plain, with_bn = create_model("googlenet"), create_model("googlenet", batch_norm=True)
    convs = sum(isinstance(m, nn.Conv2d) for m in plain.modules())
    assert convs == 3 + 9 * 6 and sum(isinstance(m, nn.BatchNorm2d) for m in with_bn.modules()) == convs
    bn_params = sum(
        p.numel() for m in with_bn.modules() if isinstance(m, nn.BatchNorm2d) for p in m.parameters()
    )
    assert n_params(with_bn) == EXPECTED_PARAMS["googlenet"] + bn_params
    assert with_bn(torch.randn(2, 1, 28, 28)).shape == (2, 10)


def test_kaiming_init_is_he_normal_with_zero_biases():
    torch.manual_seed(0)
    model = init_kaiming_weights(create_model("nin"))
    conv = model.features[2][0]  # 256 x 96 x 5 x 5: enough weights for a tight estimate
    expected = (2 / (96 * 25)) ** 0.5
    assert abs(float(conv.weight.detach().std()) / expected - 1) < 0.02
    assert all(float(m.bias.detach().abs().max()) == 0 for m in model.modules() if isinstance(m, nn.Conv2d))
