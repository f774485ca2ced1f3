"""Tests for models/ (mixing, AMR training steps, checkpoints, interpolation) and the
architecture / probe registries. Tiny CPU batches (8 images of 1x32x32) throughout."""
import io
import sys

import pytest
import torch
from torch.nn.utils import parametrize

from architectures import ARCHITECTURES, RegistryError, build_networks
from architectures.acai import InstanceNorm
from architectures.cls_probes import PROBES, build_probe
from models import AMR, AMRConfig, MIXERS
from models.amr import Forward
from models.interpolation import interpolate_pairs
from models.losses import GAN_LOSSES
from models.mixing import (fold_weights, interpolation_weights, mix_codes,
                           sample_mix_weights, sample_partners)

B, C_CODE = 8, 2  # batch size; bottleneck channels of arch_acai_kyle (code [B, 2, 4, 4])
BCE = GAN_LOSSES["bce"]


pytestmark = pytest.mark.usefixtures("one_thread")  # see conftest.py


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------
def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def make_model(seed=0, torch_seed=0, probe=True, arch="arch_acai_kyle", lr=1e-3, wd=1e-5, **cfg):
    torch.manual_seed(torch_seed)
    g, d = build_networks(arch, 1)
    p = build_probe("linear", ARCHITECTURES[arch].code_size, 10) if probe else None
    model = AMR(g, d, AMRConfig(**cfg), probe=p, seed=seed)
    model.configure_optimizers(lr, (0.5, 0.99), wd)
    return model


def make_batch(n=B, seed=0):
    g = gen(seed)
    x = torch.rand(n, 1, 32, 32, generator=g) * 2 - 1
    y = torch.randint(0, 10, (n,), generator=g)
    return x, y


def trainable(module):
    return {n: p.detach().clone() for n, p in module.named_parameters() if p.requires_grad}


def state_copy(state):
    """What a checkpoint file holds: a deep, independent copy (torch.save / torch.load)."""
    buf = io.BytesIO()
    torch.save(state, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=False)


# ---------------------------------------------------------------------------------------------
# 1. mixing functions
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("k", [2, 3, 5])
@pytest.mark.parametrize("mixer", sorted(MIXERS))
def test_mix_weights_shape_simplex(mixer, k):
    w = sample_mix_weights(mixer, k, 16, 12, generator=gen(1))
    assert w.shape == (16, k, 12)
    assert w.dtype == torch.float32
    assert (w >= 0).all()
    torch.testing.assert_close(w.sum(1), torch.ones(16, 12), atol=1e-6, rtol=0)
    if mixer == "mixup":  # one weight vector per example, shared by every channel
        assert torch.equal(w, w[:, :, :1].expand_as(w))
    if mixer == "mixup2":  # a different weight vector per channel of every example
        assert (w[:, 0, :].std(dim=1) > 1e-3).all()
        assert ((w > 0) & (w < 1)).all()
    if MIXERS[mixer].bernoulli:  # one-hot over k for every (example, channel)
        assert ((w == 0) | (w == 1)).all()
        assert torch.equal(w.sum(1), torch.ones(16, 12))


def test_unknown_mixer_raises():
    with pytest.raises(ValueError, match="mixup"):
        sample_mix_weights("cutmix", 2, 4, 4)


def test_mix_weights_reproducible_with_generator():
    for mixer in MIXERS:
        a = sample_mix_weights(mixer, 3, 8, 6, generator=gen(5))
        b = sample_mix_weights(mixer, 3, 8, 6, generator=gen(5))
        c = sample_mix_weights(mixer, 3, 8, 6, generator=gen(6))
        assert torch.equal(a, b)
        assert not torch.equal(a, c)


@pytest.mark.parametrize("k", [2, 3])
def test_fm2_one_p_per_batch(k):
    """fm2's fraction of channels from source 0 varies across batches like p ~ Dir (std ~0.29 for
    k=2, ~0.24 for k=3); fm's only by binomial noise (std ~0.03 for 8x32 draws)."""
    g = gen(2)
    frac = {m: torch.stack([sample_mix_weights(m, k, B, 32, generator=g)[:, 0].mean()
                            for _ in range(300)]) for m in ("fm", "fm2")}
    std_fm, std_fm2 = frac["fm"].std().item(), frac["fm2"].std().item()
    assert std_fm < 0.06, std_fm
    assert std_fm2 > 0.17, std_fm2
    assert std_fm2 > 4 * std_fm
    # the mean fraction is still 1/k for both
    assert abs(frac["fm"].mean().item() - 1 / k) < 0.02
    assert abs(frac["fm2"].mean().item() - 1 / k) < 0.06


def test_mixup_k2_alpha_uniform():
    w = sample_mix_weights("mixup", 2, 40000, 1, generator=gen(3))
    a = w[:, 0, 0]
    assert abs(a.mean().item() - 0.5) < 0.01
    assert abs(a.var().item() - 1 / 12) < 0.004
    for q in (0.1, 0.25, 0.5, 0.9):
        assert abs((a < q).float().mean().item() - q) < 0.015, q


def test_mixup2_k2_alpha_uniform_per_channel():
    w = sample_mix_weights("mixup2", 2, 5000, 8, generator=gen(4))
    a = w[:, 0]
    assert abs(a.mean().item() - 0.5) < 0.01
    assert abs((a < 0.25).float().mean().item() - 0.25) < 0.015
    # channels of one example are independent: correlation between channel 0 and 1 ~ 0
    corr = torch.corrcoef(torch.stack([a[:, 0], a[:, 1]]))[0, 1].item()
    assert abs(corr) < 0.06


def test_mixup_k3_dirichlet_ones():
    w = sample_mix_weights("mixup", 3, 40000, 1, generator=gen(5))[:, :, 0]
    means = w.mean(0)
    torch.testing.assert_close(means, torch.full((3,), 1 / 3), atol=0.01, rtol=0)
    # Dirichlet(1,1,1) marginals are Beta(1, 2): variance 1/18, P(w < 1/2) = 3/4
    for i in range(3):
        assert abs(w[:, i].var().item() - 1 / 18) < 0.003
        assert abs((w[:, i] < 0.5).float().mean().item() - 0.75) < 0.015


@pytest.mark.parametrize("k", [2, 3])
def test_fm_sources_uniform(k):
    w = sample_mix_weights("fm", k, 4000, 16, generator=gen(6))
    probs = w.mean(dim=(0, 2))
    torch.testing.assert_close(probs, torch.full((k,), 1 / k), atol=0.01, rtol=0)


@pytest.mark.parametrize("k", [2, 3, 5])
def test_sample_partners(k):
    p = sample_partners(B, k, generator=gen(7))
    assert p.shape == (k, B)
    assert p.dtype == torch.int64
    assert torch.equal(p[0], torch.arange(B))
    for row in p:
        assert torch.equal(row.sort().values, torch.arange(B))
    # the partner rows are random: over a few draws they are not all the identity
    rows = torch.cat([sample_partners(B, k, generator=gen(s))[1:] for s in range(5)])
    assert (rows != torch.arange(B)).any()


@pytest.mark.parametrize("mixer", sorted(MIXERS))
def test_mix_codes_matches_loop(mixer):
    g = gen(8)
    k, c = 3, 5
    h = torch.randn(B, c, 4, 4, generator=g)
    perms = sample_partners(B, k, generator=g)
    w = sample_mix_weights(mixer, k, B, c, generator=g)
    out = mix_codes(h, perms, w)
    ref = torch.zeros_like(h)
    for b in range(B):
        for ch in range(c):
            for i in range(k):
                ref[b, ch] += w[b, i, ch] * h[perms[i, b], ch]
    assert out.shape == h.shape
    torch.testing.assert_close(out, ref, atol=1e-6, rtol=1e-6)


def test_bernoulli_kway_mix_takes_each_channel_from_its_source():
    """Every (example, source) gets a distinct constant code; the fm output must hold, per
    channel, exactly the selected source's value (no overwriting, no sums)."""
    k, c = 3, 32
    n = 4
    h = (10.0 * torch.arange(n, dtype=torch.float32) + 1)[:, None, None, None].expand(n, c, 4, 4).clone()
    perms = torch.tensor([[0, 1, 2, 3], [1, 2, 3, 0], [2, 3, 0, 1]])
    # hand-made selection: channel ch from source ch % 3
    w = torch.zeros(n, k, c)
    for ch in range(c):
        w[:, ch % k, ch] = 1.0
    out = mix_codes(h, perms, w)
    for b in range(n):
        for ch in range(c):
            assert torch.all(out[b, ch] == h[perms[ch % k, b], ch]), (b, ch)
    # sampled fm / fm2 weights: the value of each channel identifies the source it came from
    for mixer in [m for m in MIXERS if MIXERS[m].bernoulli]:
        w = sample_mix_weights(mixer, k, n, c, generator=gen(9 if mixer == "fm" else 11))
        out = mix_codes(h, perms, w)
        src = w.argmax(1)  # [n, c]
        expected = torch.stack([h[perms[src[b], b], torch.arange(c)] for b in range(n)])
        assert torch.equal(out, expected)
        for b in range(n):
            used = {int(v) for v in out[b, :, 0, 0]}
            assert used <= {int(h[perms[i, b], 0, 0, 0]) for i in range(k)}
        if mixer == "fm":  # with 32 channels every source contributes to every example
            for b in range(n):
                used = {int(v) for v in out[b, :, 0, 0]}
                assert used == {int(h[perms[i, b], 0, 0, 0]) for i in range(k)}, (b, used)
        assert set(src.flatten().tolist()) == {0, 1, 2}


@pytest.mark.parametrize("mixer", sorted(MIXERS))
@pytest.mark.parametrize("steps,channels", [(10, 2), (10, 16), (7, 64), (33, 32)])
def test_interpolation_weights(mixer, steps, channels):
    w = interpolation_weights(mixer, steps, channels)
    assert w.shape == (steps, 2, channels)
    assert torch.equal(w[0, 0], torch.ones(channels)) and torch.equal(w[0, 1], torch.zeros(channels))
    assert torch.equal(w[-1, 0], torch.zeros(channels)) and torch.equal(w[-1, 1], torch.ones(channels))
    assert (w >= 0).all()
    torch.testing.assert_close(w.sum(1), torch.ones(steps, channels), atol=1e-6, rtol=0)
    if MIXERS[mixer].bernoulli:
        assert ((w == 0) | (w == 1)).all()
        on = w[:, 0].bool()
        for s in range(1, steps):
            assert not (on[s] & ~on[s - 1]).any(), f"step {s} adds a source-0 channel"
        counts = on.sum(1)
        assert (counts[1:] <= counts[:-1]).all()
        if steps == channels + 1:  # one channel swapped per step
            assert counts.tolist() == list(range(channels, -1, -1))
    else:
        a = w[:, 0]
        assert torch.equal(a, a[:, :1].expand_as(a))  # same alpha for every channel
        assert (a[1:, 0] < a[:-1, 0]).all()  # strictly decreasing
        torch.testing.assert_close(a[:, 0], torch.linspace(1, 0, steps), atol=1e-6, rtol=0)


def test_interpolation_weights_bernoulli_counts_exact():
    for channels in (2, 16, 64):
        for steps in range(2, 120):
            w = interpolation_weights("fm", steps, channels)
            counts = w[:, 0].sum(1).long().tolist()
            expected = [(channels * (steps - 1 - s)) // (steps - 1) for s in range(steps)]
            assert counts == expected, (channels, steps)


def test_fold_weights():
    a = torch.tensor([0.0, 0.2, 0.5, 0.8, 1.0])
    w = torch.stack([a, 1 - a], 1)[:, :, None].expand(5, 2, 3)
    f = fold_weights(w)
    torch.testing.assert_close(f[:, 0, 0], torch.tensor([0.0, 0.2, 0.5, 0.2, 0.0]))
    torch.testing.assert_close(f.sum(1), torch.ones(5, 3))


# ---------------------------------------------------------------------------------------------
# 2. one optimisation step updates what it should
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("cfg", [dict(objective="amr", mixer="mixup", beta=0.5),
                                 dict(objective="amr", k=3, mixer="fm", beta=0.5),
                                 dict(objective="acaif3"),
                                 dict(objective="acai")], ids=["amr", "amr_k3_fm", "acaif3", "acai"])
def test_train_step_updates_every_parameter(cfg):
    model = make_model(**cfg)
    x, y = make_batch()
    before = {name: trainable(getattr(model, name)) for name in ("generator", "discriminator", "probe")}
    assert all(before.values())
    logs = model.train_step(x, y, update_g=True)
    for name, params in before.items():
        after = dict(getattr(model, name).named_parameters())
        unchanged = [n for n, p in params.items() if torch.equal(p, after[n].detach())]
        assert not unchanged, f"{name}: parameters not updated: {unchanged}"
    for key, v in logs.items():
        assert not v.requires_grad and v.dim() == 0 and torch.isfinite(v), key
    assert {"recon", "g_mix", "g_loss", "d_loss", "d_mix", "probe_loss", "probe_acc"} <= set(logs)
    if cfg.get("beta", 0) > 0:
        assert logs["consist"] > 0
    else:
        assert "consist" not in logs
    torch.testing.assert_close(logs["g_loss"], sum(v * (cfg.get("beta", 0) if k == "consist" else 1)
                                                   for k, v in logs.items()
                                                   if k in ("recon", "g_recon", "g_mix", "consist")))
    torch.testing.assert_close(logs["d_loss"], sum(v for k, v in logs.items()
                                                   if k.startswith("d_") and k != "d_loss"))


def test_plain_autoencoder_has_no_discriminator_and_trains_generator_and_probe():
    torch.manual_seed(0)
    g, _ = build_networks("arch_acai_kyle", 1)
    model = AMR(g, None, AMRConfig(objective="ae", disable_mix=True), probe=build_probe("linear", 32, 10))
    model.configure_optimizers(1e-3, (0.5, 0.99), 1e-5)
    assert set(model.parameter_groups()) == {"g"} and model.opt_d is None
    x, y = make_batch()
    g0, p0 = trainable(model.generator), trainable(model.probe)
    logs = model.train_step(x, y, update_g=True)
    g1 = dict(model.generator.named_parameters())
    still = {n for n, p in g0.items() if torch.equal(p, g1[n].detach())}
    # only the reference's biases right before an instance norm may stay: the norm cancels them
    cancelled = {f"{half}.{i}.bias" for half in ("encoder", "decoder") for i, layer in
                 enumerate(getattr(model.generator, half)[:-1])
                 if isinstance(getattr(model.generator, half)[i + 1], InstanceNorm)}
    assert still <= cancelled and len(g0) - len(still) >= len(g0) // 2
    assert all(not torch.equal(p, dict(model.probe.named_parameters())[n]) for n, p in p0.items())
    assert set(logs) == {"recon", "g_loss", "probe_loss", "probe_acc"}
    torch.testing.assert_close(logs["g_loss"], logs["recon"])  # lamb 1, nothing else
    assert set(model.eval_step(x, y)) == {"recon", "g_loss", "probe_loss", "probe_acc"}
    assert "optimizers" in model.training_state() and set(model.training_state()["optimizers"]) == {"g", "probe"}
    with pytest.raises(ValueError, match="disable_mix"):
        AMRConfig(objective="ae")
    with pytest.raises(ValueError, match="discriminator"):
        AMR(g, None, AMRConfig())


def encoder_grads(model, x, y):
    model.zero_grad(set_to_none=True)
    fwd = model.forward_pass(x, rng=gen(1), y=y)
    model.generator_loss(x, fwd, y)[0].backward()
    return {n: p.grad.clone() for n, p in model.generator.encoder.named_parameters()}


def test_probe_trains_the_encoder_only_under_probe_backprop():
    """--bpc (cfg.probe_backprop): the generator's loss gains probe_weight x the probe's cross-entropy on
    the codes, so the encoder's gradient gains exactly that term's gradient; without it, no gradient
    from the probe reaches the encoder (changing the probe changes nothing)."""
    x, y = make_batch()
    x = x.double()  # float64: the check subtracts two gradients of the whole loss
    plain = make_model().double()
    with_probe = make_model(probe_backprop=True, probe_weight=0.7).double()
    g0, g1 = encoder_grads(plain, x, y), encoder_grads(with_probe, x, y)
    with_probe.zero_grad(set_to_none=True)
    codes = with_probe.generator.encode(x)
    (0.7 * torch.nn.functional.cross_entropy(with_probe.probe(codes), y)).backward()
    for n, p in with_probe.generator.encoder.named_parameters():
        torch.testing.assert_close(g1[n] - g0[n], p.grad, rtol=1e-7, atol=1e-12)
    assert any(p.grad.abs().sum() > 0 for p in with_probe.generator.encoder.parameters())
    other_probe = make_model().double()  # a fresh copy: spectral norm's power iteration moves on each pass
    with torch.no_grad():
        for p in other_probe.probe.parameters():
            p.mul_(-3.0)
    for n, g in encoder_grads(other_probe, x, y).items():
        assert torch.equal(g, g0[n])
    logs = with_probe.train_step(x, y, update_g=True)
    assert logs["g_probe"] > 0 and "g_probe" not in plain.train_step(x, y, update_g=True)
    with pytest.raises(ValueError, match="needs a probe"):
        make_model(probe=False, probe_backprop=True)


def test_train_step_without_generator_update():
    model = make_model(beta=0.5)
    x, y = make_batch()
    g0, d0, p0 = trainable(model.generator), trainable(model.discriminator), trainable(model.probe)
    logs = model.train_step(x, y, update_g=False)
    assert all(torch.equal(p, dict(model.generator.named_parameters())[n]) for n, p in g0.items())
    d1 = dict(model.discriminator.named_parameters())
    assert all(not torch.equal(p, d1[n]) for n, p in d0.items())
    p1 = dict(model.probe.named_parameters())
    assert all(not torch.equal(p, p1[n]) for n, p in p0.items())
    assert "g_loss" not in logs and "d_loss" in logs
    # the discriminator is trainable again afterwards, in both modes
    assert all(p.requires_grad for p in model.discriminator.parameters())
    model.train_step(x, y, update_g=True)
    assert all(p.requires_grad for p in model.discriminator.parameters())


def test_eval_step_changes_nothing():
    model = make_model(beta=0.5)
    x, y = make_batch()
    model.train_step(x, y)
    state = state_copy(model.state_dict())
    logs = model.eval_step(x, y, rng=gen(0))
    logs2 = model.eval_step(x, y, rng=gen(0))
    assert model.training
    for k, v in model.state_dict().items():
        assert torch.equal(v, state[k]), k
    assert {"g_loss", "d_loss", "probe_loss", "probe_acc"} <= set(logs)
    assert all(torch.equal(logs[k], logs2[k]) for k in logs)


# ---------------------------------------------------------------------------------------------
# 3. one batched discriminator call == separate calls
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_discriminate_batched_equals_separate(mode):
    model = make_model()
    model.train(mode == "train")
    g = gen(12)
    xs = {"a": torch.randn(3, 1, 32, 32, generator=g), "b": torch.randn(5, 1, 32, 32, generator=g),
          "c": torch.randn(2, 1, 32, 32, generator=g)}
    with parametrize.cached():
        out = model.discriminate(xs)
        sep = {k: model.discriminator(v) for k, v in xs.items()}
    assert list(out) == ["a", "b", "c"]
    for k in xs:
        assert out[k].shape == (xs[k].shape[0],)
        torch.testing.assert_close(out[k], sep[k], atol=1e-5, rtol=0)
    assert model.discriminate({}) == {}
    if mode == "eval":  # eval mode: no power iteration, so uncached calls agree too
        out2 = model.discriminate(xs)
        for k in xs:
            torch.testing.assert_close(out2[k], model.discriminator(xs[k]), atol=1e-5, rtol=0)


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_discriminator_loss_batched_equals_separate(mode):
    model = make_model(objective="amr", k=3, mixer="mixup2")
    x, _ = make_batch()
    with torch.no_grad():
        fwd = model.forward_pass(x).detached()
    model.train(mode == "train")
    params = list(model.discriminator.parameters())
    with parametrize.cached():
        total, terms = model.discriminator_loss(x, fwd)
        d = model.discriminator
        sep_terms = {"d_real": BCE(d(x), 1.0), "d_recon": BCE(d(fwd.recon), 0.0),
                     "d_mix": BCE(d(fwd.mix), 0.0)}
        sep_total = sep_terms["d_real"] + sep_terms["d_recon"] + sep_terms["d_mix"]
        g_batched = torch.autograd.grad(total, params, retain_graph=True)
        g_sep = torch.autograd.grad(sep_total, params)
    assert set(terms) == {"d_real", "d_recon", "d_mix", "d_loss"}
    for k, v in sep_terms.items():
        torch.testing.assert_close(terms[k], v, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(total, sep_total, atol=1e-5, rtol=1e-5)
    assert torch.equal(terms["d_loss"], total)
    for a, b in zip(g_batched, g_sep):
        assert a.abs().sum() > 0
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)


# ---------------------------------------------------------------------------------------------
# 4. objective variants
# ---------------------------------------------------------------------------------------------
def test_disable_mix():
    model = make_model(disable_mix=True)
    x, y = make_batch()
    fwd = model.forward_pass(x)
    assert fwd.mix is None and fwd.mix_codes is None and fwd.weights is None and fwd.perms is None
    _, gt = model.generator_loss(x, fwd)
    _, dt = model.discriminator_loss(x, fwd.detached())
    assert "g_mix" not in gt and "g_recon" in gt
    assert "d_mix" not in dt and {"d_real", "d_recon"} <= set(dt)
    logs = model.train_step(x, y)
    assert "g_mix" not in logs and "d_mix" not in logs


def test_disable_g_recon():
    model = make_model(disable_g_recon=True)
    x, y = make_batch()
    fwd = model.forward_pass(x)
    assert fwd.mix is not None
    _, gt = model.generator_loss(x, fwd)
    _, dt = model.discriminator_loss(x, fwd.detached())
    assert "g_recon" not in gt and "g_mix" in gt
    assert "d_recon" not in dt and {"d_real", "d_mix"} <= set(dt)
    torch.testing.assert_close(gt["g_loss"], gt["recon"] + gt["g_mix"])
    logs = model.train_step(x, y)
    assert "g_recon" not in logs and "d_recon" not in logs


def test_amr_generator_loss_terms():
    model = make_model(lamb=2.0, beta=0.3).eval()
    x, _ = make_batch()
    with torch.no_grad():
        fwd = model.forward_pass(x, rng=gen(0))
        total, t = model.generator_loss(x, fwd)
        d = model.discriminator
        torch.testing.assert_close(t["recon"], (fwd.recon - x).abs().mean())
        torch.testing.assert_close(t["g_recon"], BCE(d(fwd.recon), 1.0), atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(t["g_mix"], BCE(d(fwd.mix), 1.0), atol=1e-5, rtol=1e-5)
        consist = (model.generator.encode(fwd.mix) - fwd.mix_codes).abs().mean()
        torch.testing.assert_close(t["consist"], consist)
        torch.testing.assert_close(total, 2.0 * t["recon"] + t["g_recon"] + t["g_mix"] + 0.3 * consist)


def test_consistency_term_backpropagates_through_mix():
    """beta * |enc(dec(h_mix)) - h_mix| must train the decoder (through the decoded mix) and the
    encoder (through both branches)."""
    model = make_model(beta=1.0)
    x, _ = make_batch()
    fwd = model.forward_pass(x, rng=gen(0))
    _, t = model.generator_loss(x, fwd)
    dec_w = model.generator.decoder[-1].weight
    enc_w = model.generator.encoder[-1].weight
    g_dec, g_enc = torch.autograd.grad(t["consist"], [dec_w, enc_w])
    assert g_dec.abs().sum() > 0 and g_enc.abs().sum() > 0


def test_acaif3_discriminator_target():
    model = make_model(objective="acaif3").eval()
    x, _ = make_batch()
    with torch.no_grad():
        codes = model.generator.encode(x)
        perms = torch.stack([torch.arange(B), torch.arange(B).roll(1)])
        a = torch.tensor([0.0, 0.1, 0.3, 0.5, 0.6, 0.8, 0.95, 1.0])
        weights = torch.stack([a, 1 - a], 1)[:, :, None].expand(B, 2, C_CODE)
        mc = mix_codes(codes, perms, weights)
        fwd = Forward(codes=codes, recon=model.generator.decode(codes), perms=perms, weights=weights,
                      mix_codes=mc, mix=model.generator.decode(mc))
        _, t = model.discriminator_loss(x, fwd)
        d = model.discriminator
        target = torch.tensor([0.0, 0.2, 0.6, 1.0, 0.8, 0.4, 0.1, 0.0])
        torch.testing.assert_close(2 * torch.minimum(a, 1 - a), target)
        lm = d(fwd.mix)
        torch.testing.assert_close(t["d_mix"], BCE(lm, target), atol=1e-5, rtol=1e-5)
        assert not torch.allclose(BCE(lm, target), BCE(lm, a), atol=1e-4)  # the fold matters
        torch.testing.assert_close(t["d_real"], BCE(d(x), 0.0), atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(t["d_recon"], BCE(d(fwd.recon), 0.0), atol=1e-5, rtol=1e-5)
        _, gt = model.generator_loss(x, fwd)
        assert "g_recon" not in gt  # acaif3 has no adversarial reconstruction term
        torch.testing.assert_close(gt["g_mix"], BCE(lm, 0.0), atol=1e-5, rtol=1e-5)


def test_acai_weights_folded_and_losses():
    model = make_model(objective="acai").eval()
    ref = make_model(objective="amr").eval()  # same seed, unfolded alphas
    x, _ = make_batch()
    unfolded = []
    with torch.no_grad():
        for i in range(6):
            fwd = model.forward_pass(x, rng=gen(i))
            w = fwd.weights
            assert (w[:, 0, 0] <= 0.5).all() and (w[:, 0, 0] >= 0).all()
            torch.testing.assert_close(w.sum(1), torch.ones(B, C_CODE))
            raw = ref.forward_pass(x, rng=gen(i)).weights
            torch.testing.assert_close(w[:, 0, 0], 0.5 - (raw[:, 0, 0] - 0.5).abs())
            unfolded.append(raw[:, 0, 0])
        assert (torch.cat(unfolded) > 0.5).any()  # folding actually had something to do
        _, t = model.discriminator_loss(x, fwd)
        d, gamma = model.discriminator, model.cfg.acai_gamma
        torch.testing.assert_close(t["d_mix"], ((d(fwd.mix) - w[:, 0, 0]) ** 2).mean(), atol=1e-5, rtol=1e-5)
        reg = gamma * x + (1 - gamma) * fwd.recon
        torch.testing.assert_close(t["d_reg"], (d(reg) ** 2).mean(), atol=1e-5, rtol=1e-5)
        _, gt = model.generator_loss(x, fwd)
        torch.testing.assert_close(gt["g_mix"], 0.5 * (d(fwd.mix) ** 2).mean(), atol=1e-5, rtol=1e-5)


# ---------------------------------------------------------------------------------------------
# 5. save / resume, 6. determinism
# ---------------------------------------------------------------------------------------------
def _params_and_buffers(model):
    return dict(model.state_dict())


@pytest.mark.parametrize("fresh_seed,fresh_torch_seed", [(0, 0), (123, 7)], ids=["same_seed", "other_seed"])
@pytest.mark.parametrize("mixer", ["mixup", "fm2"])
def test_save_resume_roundtrip(fresh_seed, fresh_torch_seed, mixer):
    data = [make_batch(seed=s) for s in range(4)]
    a = make_model(seed=0, torch_seed=0, mixer=mixer, beta=0.5)
    for i, (x, y) in enumerate(data[:2]):
        a.train_step(x, y, update_g=i % 2 == 0)
    state = state_copy(a.training_state())

    b = make_model(seed=fresh_seed, torch_seed=fresh_torch_seed, mixer=mixer, beta=0.5)
    b.load_training_state(state)
    logs_a, logs_b = [], []
    for i, (x, y) in enumerate(data[2:]):
        logs_a.append(a.train_step(x, y, update_g=i % 2 == 0))
        logs_b.append(b.train_step(x, y, update_g=i % 2 == 0))
    sa, sb = _params_and_buffers(a), _params_and_buffers(b)
    assert sa.keys() == sb.keys()
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k
    for la, lb in zip(logs_a, logs_b):
        assert la.keys() == lb.keys()
        for k in la:
            assert torch.equal(la[k], lb[k]), k
    assert torch.equal(a.rng().get_state(), b.rng().get_state())
    for name, opt in a.optimizers().items():
        sa_opt, sb_opt = opt.state_dict(), b.optimizers()[name].state_dict()
        for pid, st in sa_opt["state"].items():
            for key, v in st.items():
                assert torch.equal(v, sb_opt["state"][pid][key]), (name, pid, key)


def test_training_state_contents_and_sensitivity():
    """A model that did NOT load the state diverges (so the round-trip test can fail)."""
    x, y = make_batch()
    a = make_model(seed=0)
    a.train_step(x, y)
    state = a.training_state()
    assert set(state) == {"model", "optimizers", "mix_rng", "device_type"} and state["device_type"] == "cpu"
    assert set(state["optimizers"]) == {"g", "d", "probe"}
    assert any("_u" in k for k in state["model"])  # spectral-norm power-iteration vectors are saved
    b = make_model(seed=0)
    b.train_step(*make_batch(seed=1))
    b.train_step(x, y)
    a.train_step(x, y)
    assert not torch.equal(a.generator.decoder[-1].weight, b.generator.decoder[-1].weight)


def test_determinism():
    x, y = make_batch()
    runs = []
    for _ in range(2):
        model = make_model(seed=3, torch_seed=0, k=3, mixer="fm2", beta=0.5)
        runs.append([model.train_step(x, y, update_g=i != 1) for i in range(3)])
    for la, lb in zip(*runs):
        assert la.keys() == lb.keys()
        for k in la:
            assert torch.equal(la[k], lb[k]), k
    # a different AMR seed changes the mixes, hence the losses
    other = make_model(seed=4, torch_seed=0, k=3, mixer="fm2", beta=0.5)
    lo = other.train_step(x, y)
    assert not torch.equal(lo["g_mix"], runs[0][0]["g_mix"])


# ---------------------------------------------------------------------------------------------
# 7. interpolation
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("k,mixer", [(2, "mixup"), (2, "fm"), (3, "mixup"), (3, "fm2")])
def test_interpolate_pairs(k, mixer):
    model = make_model(k=k, mixer=mixer, probe=False)
    x, y = make_batch(n=6)
    model.train_step(x, y)  # non-trivial weights
    xa, xb = x[:3], x[3:]
    steps = 5
    rows = interpolate_pairs(model, xa, xb, mixer, steps=steps)
    assert rows.shape == (3, steps + 2, 1, 32, 32)
    assert torch.equal(rows[:, 0], xa) and torch.equal(rows[:, -1], xb)
    assert model.training  # mode restored
    model.eval()
    with torch.no_grad():
        ha, hb = model.generator.encode(xa), model.generator.encode(xb)
        torch.testing.assert_close(rows[:, 1], model.generator.decode(ha), atol=1e-5, rtol=0)
        torch.testing.assert_close(rows[:, -2], model.generator.decode(hb), atol=1e-5, rtol=0)
        if mixer == "mixup":  # middle column (alpha = 0.5) decodes the average code
            torch.testing.assert_close(rows[:, 3], model.generator.decode(0.5 * ha + 0.5 * hb),
                                       atol=1e-5, rtol=0)
    assert not torch.allclose(rows[:, 1], rows[:, -2], atol=1e-3)


# ---------------------------------------------------------------------------------------------
# 8. registries and network structure
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("spec,latent", [("arch_acai_kyle", 2), ("architectures/arch_acai_kyle.py", 2),
                                         ("arch_acai_kyle.py", 2), ("arch_acai_kyle_256", 16),
                                         ("arch_acai_kyle_1024", 64)])
def test_build_networks_specs(spec, latent):
    torch.manual_seed(0)
    g, d = build_networks(spec, 1)
    x = torch.randn(2, 1, 32, 32)
    with torch.no_grad():
        h = g.encode(x)
        assert h.shape == (2, latent, 4, 4)
        assert h.numel() // 2 == latent * 16
        assert g.decode(h).shape == (2, 1, 32, 32)
        assert d(x).shape == (2,)


def test_build_networks_width_overrides_and_colours():
    g, d = build_networks("arch_acai_kyle", 3, ngf=8, ndf=4)
    assert g.encoder[0].out_channels == 8 and g.encoder[0].in_channels == 3
    assert d.net[0].out_channels == 4
    with torch.no_grad():
        assert g(torch.randn(2, 3, 32, 32)).shape == (2, 3, 32, 32)


@pytest.mark.parametrize("bad", ["nope", "../evil.py", "os", "tabnanny", "architectures/../evil.py",
                                 "/tmp/evil.py", "architectures.acai", "arch_acai_kyle_512", ""])
def test_build_networks_rejects_unknown(bad):
    before = set(sys.modules)
    with pytest.raises(RegistryError) as info:
        build_networks(bad, 1)
    msg = str(info.value)
    for name in ARCHITECTURES:
        assert name in msg
    assert set(sys.modules) == before
    assert not any("evil" in m for m in sys.modules)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("bad", ["nope", "../evil.py", "os"])
def test_build_probe_rejects_unknown(bad):
    before = set(sys.modules)
    with pytest.raises(RegistryError) as info:
        build_probe(bad, 32, 10)
    for name in PROBES:
        assert name in str(info.value)
    assert set(sys.modules) == before


def test_build_probe_specs():
    for spec in ("linear", "linear_legacy", "architectures/cls_probes/linear.py"):
        p = build_probe(spec, 32, 10)
        assert p(torch.randn(4, 2, 4, 4)).shape == (4, 10)


def test_instance_norm_equals_torchs_affine_instance_norm_in_both_layouts():
    torch.manual_seed(0)
    ours, torchs = InstanceNorm(6), torch.nn.InstanceNorm2d(6, affine=True)
    assert ours.state_dict().keys() == torchs.state_dict().keys()  # checkpoints load either way
    with torch.no_grad():
        ours.weight.normal_(), ours.bias.normal_()
    torchs.load_state_dict(ours.state_dict())
    x = torch.randn(5, 6, 8, 8) * 3 + 1
    for fmt in (torch.contiguous_format, torch.channels_last):
        xf = x.clone(memory_format=fmt).requires_grad_()
        out = ours(xf)
        torch.testing.assert_close(out, torchs(x), rtol=1e-5, atol=1e-5)
        assert out.is_contiguous(memory_format=fmt)  # no copy to another layout
        out.pow(2).sum().backward()
        x2 = x.clone().requires_grad_()  # NCHW
        torchs(x2).pow(2).sum().backward()
        torch.testing.assert_close(xf.grad, x2.grad, rtol=1e-4, atol=1e-4)


def test_network_structure():
    g, d = build_networks("acai32", 1)  # the reference port: tests/test_architectures.py
    norms = [m for m in g.modules() if isinstance(m, InstanceNorm)]
    assert norms and all(m.affine and m.num_groups == m.num_channels for m in norms)
    assert not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in g.modules())
    convs = [m for m in d.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) >= 5
    assert all(parametrize.is_parametrized(c, "weight") for c in convs)
    # the discriminator has no batch-dependent layers (what makes one batched call valid)
    assert not any(isinstance(m, (torch.nn.modules.batchnorm._NormBase,
                                  torch.nn.modules.instancenorm._InstanceNorm)) for m in d.modules())
    # the generator's convolutions are plain (not spectrally normalised)
    assert not any(parametrize.is_parametrized(m) for m in g.modules())
