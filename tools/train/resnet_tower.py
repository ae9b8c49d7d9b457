"""A torchvision-layout ResNet image tower for xmodal's CLIP variant.

State-dict names are torchvision's (conv1, bn1, layer{1..4}.{i}.conv1/bn1/conv2/bn2
[/conv3/bn3], downsample.0/1), so xmodal's Go loader reads them as it reads
VSE++'s ResNets. The stem is torchvision's (7x7 stride 2, batch norm, ReLU,
3x3 stride-2 max pool) unless stem_stride says otherwise: stride 3 at 96 px
leaves the rest of the network the work it does at 64 px. Widths and block
counts are free; the head is a global average pool (the projection to the
joint space lives in the CLIP model as visual_projection).
"""
import torch
import torch.nn as nn


def stem_stride(c):
    """The stem's stride in config c; configs and checkpoints from before the
    field existed mean torchvision's 2."""
    return c.get("stem_stride", 2)


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        idt = x if self.downsample is None else self.downsample(x)
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return self.relu(y + idt)


class ResNetTower(nn.Module):
    def __init__(self, c):
        super().__init__()
        widths, layers = c["widths"], c["layers"]
        self.conv1 = nn.Conv2d(3, c["stem_width"], 7, stem_stride(c), 3, bias=False)
        self.bn1 = nn.BatchNorm2d(c["stem_width"])
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        cin = c["stem_width"]
        for li, (w, n) in enumerate(zip(widths, layers)):
            blocks = []
            for i in range(n):
                blocks.append(BasicBlock(cin, w, 2 if (i == 0 and li > 0) else 1))
                cin = w
            setattr(self, f"layer{li + 1}", nn.Sequential(*blocks))
        self.n_layers = len(widths)
        self.hidden_size = cin
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        for m in self.modules():  # zero-init the last BN of each block (Goyal et al.)
            if isinstance(m, BasicBlock):
                nn.init.zeros_(m.bn2.weight)

    def forward(self, px):
        x = self.maxpool(self.relu(self.bn1(self.conv1(px))))
        for li in range(self.n_layers):
            x = getattr(self, f"layer{li + 1}")(x)
        return x.mean((2, 3))
