"""Fast paths compute what the reference computes: our step vs the reference-style step of
benchmarks/reference_step.py, --amp, --compile, the GPU data path. Timings are benchmarks
(benchmarks/step_time.py), never tests."""
import copy
import csv

import pytest
import torch

import task_launcher
from architectures import ARCHITECTURES, build_networks
from architectures.acai import InstanceNorm
from architectures.cls_probes import build_probe
from benchmarks.reference_step import reference_epoch, reference_layers, reference_loader, reference_step
from helpers import FAST
from iterators import Split, batches, on_device
from models import AMR, AMRConfig
from runs.build import accelerate
from runs.spec import spec_from_flags

pytestmark = pytest.mark.usefixtures("one_thread")  # see conftest.py


def converge_spectral_norm(model):
    """Power iteration runs once per discriminator call in training mode: once per phase in our
    step, once per term in the reference's. Converged vectors make every call use the same sigma,
    so the two steps can be compared exactly; that count is the only intended difference."""
    model.train()
    with torch.no_grad():
        for _ in range(1000):
            model.discriminator(torch.zeros(1, 1, 32, 32))


def converged_model(arch="arch_acai_kyle", **cfg):
    torch.manual_seed(0)
    gen, disc = build_networks(arch, 1, 8, 8)
    model = AMR(gen, disc, AMRConfig(**cfg), probe=build_probe("linear", ARCHITECTURES[arch].code_size, 10))
    model.configure_optimizers(1e-3, (0.5, 0.99), 1e-5)
    converge_spectral_norm(model)
    return model


def batch(seed=0, n=8):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 1, 32, 32, generator=g) * 2 - 1, torch.randint(0, 10, (n,), generator=g)


def assert_close_in_norm(actual, expected, rel, what):
    """Equal up to `rel` in relative L2 norm: float-order differences are ~1e-5 of a tensor but can
    be large against its near-zero entries (a sum with cancellation, as the weight gradient of a
    convolution before an instance norm); a real difference in what is computed is of order 1."""
    err = (actual - expected).norm().item() / max(expected.norm().item(), 1e-12)
    assert err <= rel, f"{what}: relative L2 difference {err:.3g} > {rel}"


def grads(model):
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


def cancelled_biases(model):
    """Names of the biases right before an instance norm (the reference's networks keep them): the
    norm subtracts them again, so their gradient is zero but for rounding, and is compared as such."""
    names = set()
    for half in ("encoder", "decoder"):
        seq = getattr(model.generator, half)
        names |= {f"generator.{half}.{i}.bias" for i in range(len(seq) - 1)
                  if isinstance(seq[i], torch.nn.Conv2d) and seq[i].bias is not None
                  and isinstance(seq[i + 1], (InstanceNorm, torch.nn.InstanceNorm2d))}
    return names


def assert_rounding_noise(grad, weight_grad, what):
    assert grad.norm() <= 1e-3 * weight_grad.norm(), f"{what}: gradient of a cancelled bias is not ~0"


def cpu_accelerated(model):
    """As runs.build.accelerate leaves a model on the CPU (channels-last)."""
    accelerate(model, spec_from_flags({"dataset": "digits"}), torch.device("cpu"))
    assert model.generator.encoder[1].weight.is_contiguous(memory_format=torch.channels_last)
    return model


# The claim "our step computes what the reference-style step computes" in two exact parts: the
# step's structure (batched calls, one decoder call, frozen D, update order, draws), with the same
# layers on both sides; and our layers (group-norm form of the instance norm, in-place leaky
# ReLU, channels-last) against the reference's, network by network on the same inputs. Chained
# through a whole step, float-level layer differences can put a leaky ReLU on its other side
# and move single gradient entries by more than rounding; per network they cannot hide a bug.
@pytest.mark.parametrize("layers", [cpu_accelerated, reference_layers], ids=["ours", "reference_layers"])
@pytest.mark.parametrize("cfg", [dict(lamb=10.0), dict(k=3, mixer="fm2", beta=1.0, arch="acai32"),
                                 dict(mixer="mixup2", disable_g_recon=True)])
def test_our_step_equals_reference_step(cfg, layers):
    ours = layers(converged_model(**cfg))
    for step, update_g in enumerate([True, False, True]):
        converge_spectral_norm(ours)
        ref = copy.deepcopy(ours)  # the same state (weights, optimisers, mixing RNG) before every step
        x, y = batch(step)
        logs = ours.train_step(x, y, update_g=update_g)
        ref_logs = reference_step(ref, x, y, update_g=update_g)
        names = ["d_loss", "probe_loss", "probe_acc"] + (["recon", "g_mix", "g_loss"] if update_g else [])
        names += ["g_recon"] if update_g and "g_recon" in logs else []
        names += ["consist"] if update_g and "consist" in logs else []
        for name in names:
            assert logs[name].item() == pytest.approx(ref_logs[name], rel=1e-4, abs=1e-6), (step, name)
        # each phase leaves its gradients in .grad: G's (only when it was updated), D's and the probe's
        phases = ("generator.", "discriminator.", "probe.") if update_g else ("discriminator.", "probe.")
        g_ours, g_ref = grads(ours), grads(ref)
        g_ours = {n: g for n, g in g_ours.items() if n.startswith(phases)}
        assert set(g_ours) == {n for n in g_ref if n.startswith(phases)}
        assert {n.split(".")[0] + "." for n in g_ours} == set(phases)
        cancelled = cancelled_biases(ours)
        assert bool(cancelled) == (cfg.get("arch", "arch_acai_kyle") == "arch_acai_kyle")
        for n in g_ours:
            if n in cancelled:
                for g in (g_ours, g_ref):
                    assert_rounding_noise(g[n], g[n.replace(".bias", ".weight")], f"step {step}: {n}")
            else:
                torch.testing.assert_close(g_ours[n], g_ref[n], rtol=1e-4, atol=1e-6, msg=f"step {step}: {n}")


# float32 as the CPU trains; the reference's networks in float64, where the function itself is compared:
# their leaky-ReLU slope is 0.01, so one float32 rounding that moves a pre-activation across 0 scales
# its gradient by 100 and moves the input gradient by ~1e-3 (measured 1.06e-3 in float32, 4.8e-16 in
# float64); the layers are the same kinds as acai32's, whose float32 kernels the first case checks.
@pytest.mark.parametrize("arch,dtype,rel", [("acai32", torch.float32, 1e-4), ("arch_acai_kyle", torch.float64, 1e-10)])
def test_our_layers_compute_what_the_references_compute(arch, dtype, rel):
    """Each network with our layers as the CPU runs them, and with the reference's (NCHW,
    nn.InstanceNorm2d, out-of-place leaky ReLU), given the same input: the same output and the
    same parameter and input gradients."""
    ours = cpu_accelerated(converged_model(arch)).to(dtype)
    ref = reference_layers(copy.deepcopy(ours))
    assert ref.generator.encoder[1].weight.is_contiguous()
    x, _ = batch(0, n=16)
    x = x.to(dtype)
    h = torch.randn(16, 2, 4, 4, generator=torch.Generator().manual_seed(1), dtype=dtype)
    cases = [("encode", lambda m, t: m.generator.encode(t), x), ("decode", lambda m, t: m.generator.decode(t), h),
             ("discriminate", lambda m, t: m.discriminator(t), x)]
    for name, fn, inp in cases:
        outs, grads_ = [], []
        for m in (ref, ours):
            m.zero_grad(set_to_none=True)
            t = inp.clone().requires_grad_()
            out = fn(m, t)
            (out * torch.linspace(-1, 1, out.numel(), dtype=dtype).view_as(out)).sum().backward()
            outs.append(out.detach())
            grads_.append({"input": t.grad, **{n: p.grad for n, p in m.named_parameters() if p.grad is not None}})
        torch.testing.assert_close(outs[1], outs[0], rtol=min(rel, 1e-5), atol=min(rel, 1e-5), msg=name)
        assert grads_[0].keys() == grads_[1].keys() and len(grads_[0]) > 2
        for n in grads_[0]:
            if n in cancelled_biases(ours):
                for g in grads_:
                    assert_rounding_noise(g[n], g[n.replace(".bias", ".weight")], f"{name}: {n}")
            else:
                assert_close_in_norm(grads_[1][n], grads_[0][n], rel, f"{name}: {n}")


def test_reference_epoch_draws_batches_from_a_dataloader():
    model = converged_model()
    g = torch.Generator().manual_seed(1)
    split = Split(torch.randint(0, 256, (40, 1, 32, 32), dtype=torch.uint8, generator=g), torch.randint(0, 10, (40,)))
    before = copy.deepcopy(model.state_dict())
    reference_epoch(model, reference_loader(split, 16, seed=0), torch.device("cpu"), n_steps=5, update_g_every=5)
    changed = [k for k, v in model.state_dict().items() if not torch.equal(v, before[k])]
    assert any(k.startswith("generator.") for k in changed) and any(k.startswith("discriminator.") for k in changed)


def test_amp_stays_close_to_float32():
    model = converged_model(lamb=10.0)
    x, y = batch(3, n=16)
    rng = lambda: torch.Generator().manual_seed(5)  # noqa: E731
    full = model.eval_step(x, y, rng())
    model.set_precision("bf16")
    half = model.eval_step(x, y, rng())
    assert set(full) == set(half) and all(v.dtype == torch.float32 for v in half.values())
    for k in ("recon", "g_mix", "d_real", "d_mix"):
        assert half[k].item() == pytest.approx(full[k].item(), rel=0.05, abs=0.01), k
    before = [p.detach().clone() for p in model.generator.parameters()]
    logs = model.train_step(x, y, update_g=True)
    assert all(torch.isfinite(v) and v.dtype == torch.float32 for v in logs.values())
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert all(not torch.equal(a, p) for a, p in zip(before, model.generator.parameters()))


def run_digits(tmp_path, name, *extra):
    argv = FAST + ["--epochs=1", "--batches_per_epoch=3", f"--save_path={tmp_path}", f"--name={name}",
                   "--update_g_every=1"]
    assert task_launcher.main(argv + list(extra)) == 0
    with open(tmp_path / "s0" / name / "0" / "results.csv") as f:
        return next(csv.DictReader(f))


def test_compile_flag_compiles_the_networks_and_matches(tmp_path, monkeypatch):
    """--compile goes through torch.compile; the aot_eager backend keeps the test quick (the
    inductor code generation that a real run uses is timed by benchmarks/step_time.py)."""
    compiled = []
    original = torch.nn.Module.compile

    def compile_quickly(self, *args, **kwargs):
        compiled.append(type(self).__name__)
        return original(self, backend="aot_eager")
    monkeypatch.setattr(torch.nn.Module, "compile", compile_quickly)
    eager = run_digits(tmp_path, "eager")
    assert compiled == []
    fast = run_digits(tmp_path, "compiled", "--compile")
    assert sorted(compiled) == ["Discriminator", "Sequential", "Sequential"]
    for k in ("train_recon", "train_g_mix", "train_d_loss", "valid_recon", "valid_probe_acc"):
        assert float(fast[k]) == pytest.approx(float(eager[k]), rel=1e-3, abs=1e-5), k


def test_amp_flag_trains(tmp_path):
    row = run_digits(tmp_path, "amp", "--amp")
    assert all(float(row[k]) == float(row[k]) for k in ("train_recon", "valid_recon"))  # finite, present


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_gpu_step_has_no_host_sync_and_data_stays_on_device():
    from iterators import Dataset
    g = torch.Generator().manual_seed(0)
    split = Split(torch.randint(0, 256, (256, 1, 32, 32), dtype=torch.uint8, generator=g), torch.randint(0, 10, (256,)))
    data = on_device(Dataset("t", split, split, split, n_classes=10, n_channels=1), torch.device("cuda"))
    assert data.train.images.is_cuda and data.test.labels.is_cuda
    model = converged_model().cuda()
    model.configure_optimizers(1e-3, (0.5, 0.99), 1e-5)
    order = torch.randperm(256)
    batch_iter = list(batches(data.train, 64, torch.device("cuda"), order))
    model.train_step(*batch_iter[0])  # warm-up: lazily created state may sync once
    torch.cuda.set_sync_debug_mode("error")
    try:
        for i, (x, y) in enumerate(batch_iter):
            model.train_step(x, y, update_g=i % 2 == 0)
    finally:
        torch.cuda.set_sync_debug_mode("default")
