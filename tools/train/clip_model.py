"""Hugging Face CLIPModel in plain torch, with HF's exact parameter names.

state_dict() keys are those of transformers' CLIPModel (minus the optional
position_ids buffers): text_model.embeddings.token_embedding.weight, ...,
vision_model.pre_layrnorm.*, visual_projection.weight, text_projection.weight,
logit_scale.  The forward pass follows /work/shared/reference/hf_clip_ref.py:
pre-LN encoder layers, causal mask in the text tower, pooling at the first
<|endoftext|> (argmax of the ids, legacy eos_token_id 2), class token +
post_layernorm in the vision tower, bias-free projections.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def act_fn(name):
    if name == "quick_gelu":
        return lambda x: x * torch.sigmoid(1.702 * x)
    if name == "gelu":
        return lambda x: F.gelu(x)  # exact erf form
    raise ValueError(name)


class Attention(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.heads = heads
        self.q_proj = nn.Linear(d, d)
        self.k_proj = nn.Linear(d, d)
        self.v_proj = nn.Linear(d, d)
        self.out_proj = nn.Linear(d, d)

    def forward(self, x, mask=None):
        n, length, d = x.shape
        hd = d // self.heads
        q = self.q_proj(x) * (hd ** -0.5)
        k = self.k_proj(x)
        v = self.v_proj(x)
        q = q.view(n, length, self.heads, hd).transpose(1, 2)
        k = k.view(n, length, self.heads, hd).transpose(1, 2)
        v = v.view(n, length, self.heads, hd).transpose(1, 2)
        s = q @ k.transpose(-1, -2)
        if mask is not None:
            s = s + mask
        a = torch.softmax(s.float(), dim=-1).to(v.dtype)
        o = (a @ v).transpose(1, 2).reshape(n, length, d)
        return self.out_proj(o)


class MLP(nn.Module):
    def __init__(self, d, inter, act):
        super().__init__()
        self.fc1 = nn.Linear(d, inter)
        self.fc2 = nn.Linear(inter, d)
        self.act = act_fn(act)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class EncoderLayer(nn.Module):
    def __init__(self, d, heads, inter, act, eps):
        super().__init__()
        self.self_attn = Attention(d, heads)
        self.layer_norm1 = nn.LayerNorm(d, eps=eps)
        self.mlp = MLP(d, inter, act)
        self.layer_norm2 = nn.LayerNorm(d, eps=eps)

    def forward(self, x, mask=None):
        x = x + self.self_attn(self.layer_norm1(x), mask)
        x = x + self.mlp(self.layer_norm2(x))
        return x


class Encoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.layers = nn.ModuleList([
            EncoderLayer(c["hidden_size"], c["num_attention_heads"], c["intermediate_size"],
                         c["hidden_act"], c["layer_norm_eps"]) for _ in range(c["num_hidden_layers"])])

    def forward(self, x, mask=None):
        for layer in self.layers:
            x = layer(x, mask)
        return x


class TextEmbeddings(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.token_embedding = nn.Embedding(c["vocab_size"], c["hidden_size"])
        self.position_embedding = nn.Embedding(c["max_position_embeddings"], c["hidden_size"])


class TextTransformer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embeddings = TextEmbeddings(c)
        self.encoder = Encoder(c)
        self.final_layer_norm = nn.LayerNorm(c["hidden_size"], eps=c["layer_norm_eps"])

    def forward(self, ids):
        n, length = ids.shape
        x = self.embeddings.token_embedding(ids) + self.embeddings.position_embedding.weight[:length]
        mask = torch.full((length, length), float("-inf"), device=ids.device).triu(1)
        x = self.encoder(x, mask)
        x = self.final_layer_norm(x)
        return x[torch.arange(n, device=ids.device), ids.argmax(-1)]


class VisionEmbeddings(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, p = c["hidden_size"], c["patch_size"]
        self.class_embedding = nn.Parameter(torch.randn(d) * d ** -0.5)
        self.patch_embedding = nn.Conv2d(c["num_channels"], d, kernel_size=p, stride=p, bias=False)
        npos = (c["image_size"] // p) ** 2 + 1
        self.position_embedding = nn.Embedding(npos, d)

    def forward(self, px):
        n = px.shape[0]
        t = self.patch_embedding(px).flatten(2).transpose(1, 2).float()  # residual stream in f32
        cls = self.class_embedding.expand(n, 1, -1)
        x = torch.cat([cls, t], dim=1)
        return x + self.position_embedding.weight[: x.shape[1]]


class VisionTransformer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embeddings = VisionEmbeddings(c)
        self.pre_layrnorm = nn.LayerNorm(c["hidden_size"], eps=c["layer_norm_eps"])
        self.encoder = Encoder(c)
        self.post_layernorm = nn.LayerNorm(c["hidden_size"], eps=c["layer_norm_eps"])

    def forward(self, px):
        x = self.pre_layrnorm(self.embeddings(px))
        x = self.encoder(x)
        return self.post_layernorm(x[:, 0])


class CLIPModel(nn.Module):
    def __init__(self, text_cfg, vision_cfg, projection_dim, logit_scale_init=math.log(1 / 0.07)):
        super().__init__()
        self.text_cfg, self.vision_cfg, self.projection_dim = text_cfg, vision_cfg, projection_dim
        self.text_model = TextTransformer(text_cfg)
        if vision_cfg.get("model_type") == "xmodal_resnet":
            from resnet_tower import ResNetTower
            self.vision_model = ResNetTower(vision_cfg)
        else:
            self.vision_model = VisionTransformer(vision_cfg)
        self.visual_projection = nn.Linear(vision_cfg["hidden_size"], projection_dim, bias=False)
        self.text_projection = nn.Linear(text_cfg["hidden_size"], projection_dim, bias=False)
        self.logit_scale = nn.Parameter(torch.tensor(float(logit_scale_init)))
        self._init()

    def _init(self):
        # CLIP-style init (scaled normal), as in HF CLIPPreTrainedModel._init_weights
        towers = [(self.text_model, self.text_cfg)]
        if self.vision_cfg.get("model_type") != "xmodal_resnet":  # the ResNet inits itself
            towers.append((self.vision_model, self.vision_cfg))
        for tower, c in towers:
            d, L = c["hidden_size"], c["num_hidden_layers"]
            in_std = d ** -0.5 * (2 * L) ** -0.5
            out_std = d ** -0.5
            fc_std = (2 * d) ** -0.5
            for layer in tower.encoder.layers:
                for m in (layer.self_attn.q_proj, layer.self_attn.k_proj, layer.self_attn.v_proj):
                    nn.init.normal_(m.weight, std=out_std)
                    nn.init.zeros_(m.bias)
                nn.init.normal_(layer.self_attn.out_proj.weight, std=in_std)
                nn.init.zeros_(layer.self_attn.out_proj.bias)
                nn.init.normal_(layer.mlp.fc1.weight, std=fc_std)
                nn.init.zeros_(layer.mlp.fc1.bias)
                nn.init.normal_(layer.mlp.fc2.weight, std=in_std)
                nn.init.zeros_(layer.mlp.fc2.bias)
        nn.init.normal_(self.text_model.embeddings.token_embedding.weight, std=0.02)
        nn.init.normal_(self.text_model.embeddings.position_embedding.weight, std=0.01)
        v = self.vision_cfg
        if v.get("model_type") != "xmodal_resnet":
            nn.init.normal_(self.vision_model.embeddings.patch_embedding.weight,
                            std=(v["num_channels"] * v["patch_size"] ** 2) ** -0.5)
            nn.init.normal_(self.vision_model.embeddings.position_embedding.weight, std=0.02)
        nn.init.normal_(self.visual_projection.weight, std=self.vision_cfg["hidden_size"] ** -0.5)
        nn.init.normal_(self.text_projection.weight, std=self.text_cfg["hidden_size"] ** -0.5)

    def get_text_features(self, ids):
        return self.text_projection(self.text_model(ids))

    def get_image_features(self, px):
        return self.visual_projection(self.vision_model(px))
