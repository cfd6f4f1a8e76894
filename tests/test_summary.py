import torch

from classicnets.analysis import layer_walk, summary
from classicnets.models import create_model

# seed 000's printed walk for AlexNet on a 1x1x224x224 input.
SEED_000_ALEXNET = [
    ("Conv2d", [1, 96, 54, 54]),
    ("ReLU", [1, 96, 54, 54]),
    ("MaxPool2d", [1, 96, 26, 26]),
    ("Conv2d", [1, 256, 26, 26]),
    ("ReLU", [1, 256, 26, 26]),
    ("MaxPool2d", [1, 256, 12, 12]),
    ("Conv2d", [1, 384, 12, 12]),
    ("ReLU", [1, 384, 12, 12]),
    ("Conv2d", [1, 384, 12, 12]),
    ("ReLU", [1, 384, 12, 12]),
    ("Conv2d", [1, 256, 12, 12]),
    ("ReLU", [1, 256, 12, 12]),
    ("MaxPool2d", [1, 256, 5, 5]),
    ("Flatten", [1, 6400]),
    ("Linear", [1, 4096]),
    ("ReLU", [1, 4096]),
    ("Dropout", [1, 4096]),
    ("Linear", [1, 4096]),
    ("ReLU", [1, 4096]),
    ("Dropout", [1, 4096]),
    ("Linear", [1, 10]),
]


def test_alexnet_walk_reproduces_seed_000():
    with torch.device("meta"):
        model = create_model("alexnet")
    assert [(t, s) for _, t, s in layer_walk(model, (1, 224, 224))] == SEED_000_ALEXNET


def test_vgg_walk_is_block_by_block_as_in_seed_000():
    with torch.device("meta"):
        model = create_model("vgg11")
    walk = layer_walk(model, (1, 224, 224))
    assert [s for _, t, s in walk[:5]] == [
        [1, 64, 112, 112],
        [1, 128, 56, 56],
        [1, 256, 28, 28],
        [1, 512, 14, 14],
        [1, 512, 7, 7],
    ]
    assert walk[5][1:] == ("Flatten", [1, 25088])


def test_lenet_summary_counts_flops_params_and_memory():
    info = summary(create_model("lenet"), (1, 28, 28))
    macs = 6 * 28 * 28 * 25 + 16 * 10 * 10 * 6 * 25 + 400 * 120 + 120 * 84 + 84 * 10
    assert info.flops == 2 * macs and info.macs == macs
    assert info.total_params == info.trainable_params == 61706 and info.frozen_params == 0
    assert info.param_bytes == 61706 * 4 and info.input_bytes == 28 * 28 * 4
    conv1 = next(layer for layer in info.layers if layer.name == "features.0")
    assert (
        conv1.output_shape == [1, 6, 28, 28] and conv1.params == 156 and conv1.flops == 2 * 6 * 28 * 28 * 25
    )


def test_frozen_parameters_are_counted_apart():
    model = create_model("lenet")
    for p in model.features.parameters():
        p.requires_grad_(False)
    info = summary(model, (1, 28, 28))
    assert info.frozen_params == 156 + 2416 and info.trainable_params == 61706 - 2572


def test_nested_names_and_repeated_layers_in_run_order():
    info = summary(create_model("resnet18"), (1, 96, 96), batch_size=2)
    names = [layer.name for layer in info.layers]
    assert "features.resnet_block2.0.conv3" in names
    assert names.index("features.resnet_block1") < names.index("features.resnet_block1.0.conv1")
    mlp = summary(create_model("mlp"), (1, 28, 28))
    assert [layer.name for layer in mlp.layers].count("activation") == 2
    assert info.input_shape == [2, 1, 96, 96]


def test_summary_counts_only_the_real_forward():
    # Nothing runs a GAP network's modules but its forward pass (the smallest-size search ran
    # when it was built), so a summary of a used network counts what one of a fresh one does.
    fresh, used = create_model("densenet"), create_model("densenet").eval()
    with torch.no_grad():
        used(torch.randn(1, 1, 32, 32))
    assert summary(fresh, (1, 96, 96)).flops == summary(used, (1, 96, 96)).flops
    assert len(summary(fresh, (1, 96, 96)).layers) == len(summary(used, (1, 96, 96)).layers)
